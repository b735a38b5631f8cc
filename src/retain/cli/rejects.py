"""``retain rejects``: what a load quarantined, newest batch by default, readable at 80 columns."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import pandas as pd
import typer

from retain import warehouse as wh
from retain.cli._app import app, console, settings
from retain.cli._tables import choose_columns, parse_columns, print_frame
from retain.i18n import t
from retain.ingest import read_rejects

__all__ = ["rejects_command"]

_SHOWN = ("file", "row", "column", "rule", "value", "message")
_NARROW = ("file", "row", "column", "rule", "value")
_VALUE_CHARS = 40
"""A rejected value can be megabytes (``field_too_large``): the table shows its start."""


class RejectsFormat(StrEnum):
    """How ``retain rejects`` prints."""

    table = "table"
    csv = "csv"
    json = "json"


def _short(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    text = str(value).replace("\n", "⏎")
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _line(value: object) -> str:
    return "-" if value is None or pd.isna(value) else str(int(value))  # type: ignore[call-overload]


@app.command("rejects")
def rejects_command(
    batch: Annotated[
        str | None,
        typer.Option("--batch", help="The batch id (default: the newest batch with rejects)."),
    ] = None,
    fmt: Annotated[
        RejectsFormat,
        typer.Option("--format", "-f", help="table (default), csv or json (every column)."),
    ] = RejectsFormat.table,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=0,
            help="Rows to show (table default 50; 0 for all; csv and json: all).",
            show_default=False,
        ),
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            "-c",
            help="Only these columns, comma-separated (repeatable): batch_id, table_name, file, "
            "row, column, rule, value, message, hint, record.",
        ),
    ] = None,
) -> None:
    """Show the rows a load quarantined: file, line, column, rule, value and batch."""
    con = wh.connect(settings=settings())  # read-only by itself while `retain serve` holds it
    try:
        found = read_rejects(con, batch)
    finally:
        con.disconnect()
    chosen = parse_columns(columns)
    rows = choose_columns(found.rows, chosen)
    total = len(rows)
    cap = limit if limit is not None else (50 if fmt is RejectsFormat.table else 0)
    if cap:
        rows = rows.head(cap)
    if fmt is RejectsFormat.csv:
        typer.echo(rows.to_csv(index=False), nl=False)
        return
    if fmt is RejectsFormat.json:
        typer.echo(rows.to_json(orient="records", force_ascii=False, indent=1))
        return
    if found.batch_id is None:
        console.print(t("ingest.rejects_none"), highlight=False, soft_wrap=True)
        return
    names = list(chosen or _SHOWN)
    labels = {c: t(f"ingest.rejects_col_{c}") if c in _SHOWN else c for c in names}
    shown = rows[names].rename(columns=labels)
    formatters = {labels[c]: _line if c == "row" else _short for c in names}
    title = t("ingest.rejects_title", batch=found.batch_id, table=found.table, count=total)
    print_frame(
        console,
        shown,
        title=title,
        narrow=[labels[c] for c in _NARROW if c in labels],
        explicit=chosen is not None,
        formatters=formatters,
    )
    if found.source:
        console.print(t("ingest.rejects_source", source=found.source), highlight=False)
    if len(rows) < total:
        console.print(
            t("ingest.rejects_more", shown=len(rows), total=total), highlight=False, soft_wrap=True
        )
    others = [b for b in found.batches if b != found.batch_id][:3]
    if others:
        console.print(
            t("ingest.rejects_other_batches", batches=", ".join(others)),
            highlight=False,
            soft_wrap=True,
        )
