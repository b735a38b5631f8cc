"""Terminal tables of the CLI: translated headers, locale numbers, readable at 80 columns.

A metric frame can have 14 or 17 columns; printed whole on an 80-column terminal every cell is
cut to "19…". :func:`print_frame` therefore shows a command's short list of columns when the
whole table does not fit (and says which columns it left out and how to get them), folds any
long cell instead of cutting it, and never changes what ``--format csv|json`` writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from retain.errors import InvalidParameterError
from retain.i18n import catalog, format_number, get_language, t

__all__ = ["cell", "choose_columns", "header", "parse_columns", "print_frame", "table_width"]

Formatter = Callable[[Any], str]


def header(column: str) -> str:
    """The column's translated header (``cli.col_<name>``), or its own name where there is none."""
    key = f"cli.col_{column}"
    if key in catalog(get_language()) or key in catalog("en"):
        return t(key)
    return column


def cell(value: Any) -> str:
    """A value as the terminal shows it: ``7,846``, ``14.75``, ``1997-01-01``, ``-`` if none."""
    if value is None or value is pd.NaT:
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    if isinstance(value, int | np.integer):
        return format_number(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return "-"
        if math.isinf(number):
            return "∞" if number > 0 else "-∞"
        return format_number(number, digits=2)
    return str(value)


def parse_columns(values: Iterable[str] | None) -> list[str] | None:
    """``--columns a,b --columns c`` as ``[a, b, c]``; ``None`` when the option was not given."""
    if not values:
        return None
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return names or None


def choose_columns(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    """``frame`` with only ``columns`` (in that order); an unknown name lists those there are."""
    if columns is None:
        return frame
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise InvalidParameterError(
            t("cli.columns_unknown", names=", ".join(unknown)),
            hint=t("cli.columns_hint", names=", ".join(map(str, frame.columns))),
        )
    return frame[list(columns)]


def _texts(frame: pd.DataFrame, formatters: Mapping[str, Formatter]) -> list[list[str]]:
    return [
        [
            formatters.get(str(name), cell)(value)
            for name, value in zip(frame.columns, row, strict=True)
        ]
        for row in frame.itertuples(index=False)
    ]


def table_width(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Columns a rich table needs so that no cell and no header word is folded."""
    total = 1
    for i, head in enumerate(headers):
        words = max((cell_len(w) for w in head.split()), default=0)
        cells = max((cell_len(r[i]) for r in rows), default=0)
        total += max(words, cells) + 3
    return total


def print_frame(
    console: Console,
    frame: pd.DataFrame,
    *,
    title: str,
    narrow: Sequence[str] = (),
    explicit: bool = False,
    formatters: Mapping[str, Formatter] | None = None,
    width: int | None = None,
) -> None:
    """Print ``frame`` as a table on ``console``, fitting the terminal's width.

    Parameters
    ----------
    narrow
        The columns to keep when the whole table is wider than the terminal (those missing
        from ``frame`` are ignored). The columns left out are named in a note.
    explicit
        The user chose the columns (``--columns``): show them all, folded if need be.
    formatters
        Per column, how to show a value (default :func:`cell`).
    width
        The width to fit (default the console's).
    """
    formatters = formatters or {}
    limit = width or console.width
    shown = frame
    hidden: list[str] = []
    headers = [header(str(c)) for c in frame.columns]
    rows = _texts(frame, formatters)
    if not explicit and narrow and table_width(headers, rows) > limit - 2:
        keep = [c for c in frame.columns if c in narrow]
        hidden = [str(c) for c in frame.columns if c not in narrow]
        if keep and hidden:
            shown = frame[keep]
            headers = [header(str(c)) for c in keep]
            rows = _texts(shown, formatters)
        else:
            hidden = []
    table = Table(title=title, title_justify="left")
    for name, head in zip(shown.columns, headers, strict=True):
        text_like = shown[name].dtype == object and not all(
            isinstance(v, int | float) for v in shown[name].dropna()
        )
        table.add_column(head, justify="left" if text_like else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table, width=limit)
    if hidden:
        console.print(
            t("cli.columns_hidden", n=len(hidden), names=", ".join(hidden)), highlight=False
        )
