"""Excel workbooks (.xlsx) -> text rows tagged with their sheet row, like a rescanned CSV.

Japanese and Korean teams often hand over data as Excel exports, so a workbook loads like a
CSV: one sheet (the first by default), its first non-empty row the header, each later row a
record whose line is the sheet's own row number (what Excel shows in its left margin). Values
are taken as Excel typed them: a date cell becomes ``2024-01-31`` (``2024-01-31 09:30:00`` with
a time), a number its shortest exact text (``1200``, ``0.1``), a boolean ``true``/``false``,
and text stays text in any script. Everything is text afterwards, exactly as for a CSV, so the
same validation names the value as the user sees it.

A row with values to the right of the header (``extra_cells``) or a cell holding an Excel error
such as ``#DIV/0!`` (``excel_error``) is rejected on its own, with the sheet and row; a
workbook that cannot be opened is an ``unreadable_file`` error naming it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from retain.errors import DataValidationError, Violation
from retain.i18n import t
from retain.ingest.csvcheck import LINE_COLUMN

__all__ = ["EXCEL_ERRORS", "ExcelSheet", "cell_text", "read_sheet"]

EXCEL_ERRORS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}
)
"""The error values a formula cell can hold."""


@dataclass
class ExcelSheet:
    """One sheet read as text: its label, columns, rows (with their line) and bad rows."""

    label: str
    """``book.xlsx[Sheet]``: the file and sheet, as errors and ``rejects`` name them."""
    columns: list[str]
    table: pa.Table
    """Text columns plus :data:`~retain.ingest.csvcheck.LINE_COLUMN` (the sheet row)."""
    violations: list[Violation] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    """Each rejected row's cells, tab-separated."""


def cell_text(value: Any) -> str | None:
    """A cell's value as text, as Excel typed it (``None`` for an empty cell)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, timedelta):
        return str(value)
    text = str(value)
    return text if text != "" else None


def _unreadable(path: Path, reason: str) -> DataValidationError:
    return DataValidationError(
        [
            Violation(
                "unreadable_file",
                t("ingest.rule.unreadable_file", reason=reason[:300]),
                file=path.name,
                hint=t("ingest.hint.unreadable_excel"),
            )
        ]
    )


def _pick_sheet(path: Path, book: Any, sheet: str | None) -> Any:
    """The sheet called ``sheet`` (or numbered so, from 1); the first one by default."""
    sheets = list(book.worksheets)
    if sheet is None:
        return sheets[0]
    for ws in sheets:
        if ws.title == sheet:
            return ws
    if sheet.strip().isdigit() and 1 <= int(sheet) <= len(sheets):
        return sheets[int(sheet) - 1]
    raise DataValidationError(
        [
            Violation(
                "missing_sheet",
                t("ingest.rule.missing_sheet", sheet=sheet),
                file=path.name,
                value=sheet,
                hint=t("ingest.hint.missing_sheet", sheets=", ".join(ws.title for ws in sheets)),
            )
        ]
    )


def _header(cells: Sequence[Any]) -> list[str]:
    """Column names from the header cells: blanks named by their letter, repeats numbered."""
    from openpyxl.utils import get_column_letter

    names: list[str] = []
    seen: dict[str, int] = {}
    for i, value in enumerate(cells, start=1):
        name = (cell_text(value) or "").strip() or f"column {get_column_letter(i)}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def read_sheet(path: Path, *, sheet: str | None = None) -> ExcelSheet:
    """Read one sheet of the workbook at ``path`` as text rows (see the module docstring).

    Raises
    ------
    DataValidationError
        ``unreadable_file`` for a file that is not a readable workbook, ``missing_sheet`` for a
        sheet that does not exist, ``empty_file`` for a sheet without a header or rows.
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, SyntaxError) as exc:
        raise _unreadable(path, str(exc) or type(exc).__name__) from None
    except Exception as exc:  # openpyxl's own InvalidFileException and parser errors
        raise _unreadable(path, str(exc) or type(exc).__name__) from None
    try:
        ws = _pick_sheet(path, book, sheet)
        label = f"{path.name}[{ws.title}]"
        # Some exporters record a wrong sheet size ("A1"); read the rows that are really there.
        ws.reset_dimensions()
        try:
            return _read_rows(ws.iter_rows(values_only=True), label)
        except DataValidationError:
            raise
        except Exception as exc:  # a corrupt sheet fails while its rows are parsed
            raise _unreadable(path, str(exc) or type(exc).__name__) from None
    finally:
        book.close()


_BATCH_ROWS = 65_536
"""Rows held as Python strings before they are packed into an Arrow batch (bounded memory)."""


def _batch(columns: list[str], values: list[list[str | None]], lines: list[str]) -> pa.RecordBatch:
    arrays = [pa.array(col, type=pa.string()) for col in values]
    arrays.append(pa.array(lines, type=pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=[*columns, LINE_COLUMN])


def _read_rows(rows: Iterable[Sequence[Any]], label: str) -> ExcelSheet:
    columns: list[str] | None = None
    header_width = 0
    values: list[list[str | None]] = []
    lines: list[str] = []
    batches: list[pa.RecordBatch] = []
    out = ExcelSheet(label, [], pa.table({}))
    for line, row in enumerate(rows, start=1):
        texts = [cell_text(v) for v in row]
        if not any(x is not None and x.strip() for x in texts):
            continue
        if columns is None:
            while texts and texts[-1] is None:
                texts.pop()
            columns = _header(texts)
            header_width = len(columns)
            values = [[] for _ in columns]
            continue
        rule = _row_rule(texts, columns)
        if rule is not None:
            name, params = rule
            out.violations.append(
                Violation(
                    name,
                    t(f"ingest.rule.{name}", **params),
                    file=label,
                    row=line,
                    column=params.get("column"),
                    value=params.get("value"),
                    hint=t(f"ingest.hint.{name}"),
                )
            )
            out.raw.append("\t".join(x or "" for x in texts))
            continue
        texts += [None] * (header_width - len(texts))
        for i in range(header_width):
            values[i].append(texts[i])
        lines.append(str(line))
        if len(lines) >= _BATCH_ROWS:
            batches.append(_batch(columns, values, lines))
            values, lines = [[] for _ in columns], []
    if columns is None:
        raise DataValidationError(
            [
                Violation(
                    "empty_file",
                    t("ingest.rule.empty_file"),
                    file=label,
                    hint=t("ingest.hint.empty_file"),
                )
            ]
        )
    batches.append(_batch(columns, values, lines))
    out.columns = columns
    out.table = pa.Table.from_batches(batches)
    return out


def _row_rule(texts: list[str | None], columns: list[str]) -> tuple[str, dict[str, Any]] | None:
    """The rule a data row breaks before validation: cells past the header, an Excel error."""
    width = len(columns)
    extra = [x for x in texts[width:] if x is not None and x.strip()]
    if extra:
        return "extra_cells", {"expected": width, "value": extra[0]}
    for name, x in zip(columns, texts[:width], strict=False):
        if x is not None and x.strip() in EXCEL_ERRORS:
            return "excel_error", {"value": x.strip(), "column": name}
    return None
