"""``retain voice reasons|beside|themes``: why customers say they leave, and what they write.

``reasons`` prints one row per stated exit reason (``reason, customers, share, revenue_lost``),
optionally split ``--by cohort|month|segment:SCHEME``; ``beside`` sets each customer's stated
reason beside the churn model's top stored reason; ``themes`` groups the free text customers
wrote (exit answers, survey comments, reviews, complaints) into themes with quotes. The library
does the work (:mod:`retain.voice.reasons`, :mod:`retain.voice.themes`).
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

import retain.warehouse as wh
from retain.cli._app import app, settings
from retain.cli.metrics import FormatOpt, OutputFormat, OutputOpt, emit
from retain.i18n import format_number, t
from retain.targeting.export import csv_cell
from retain.voice.reasons import reason_summary, stated_beside_model
from retain.voice.texts import customer_texts
from retain.voice.themes import find_themes

__all__ = ["voice_app"]

voice_app = typer.Typer(
    help="Why customers leave: stated exit reasons and themes in what they wrote.",
    no_args_is_help=True,
)
app.add_typer(voice_app, name="voice")

SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only answers on or after this date, YYYY-MM-DD.")
]


@voice_app.command("reasons")
def reasons(
    since: SinceOpt = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Split by cohort, month or segment:SCHEME (e.g. segment:rfm)."),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """One row per stated exit reason: customers, share (percent) and revenue lost."""
    con = wh.connect(settings=settings(), read_only=True)
    frame = reason_summary(con, since=since, by=by)
    customers = format_number(int(frame["customers"].sum()))
    emit(frame, fmt, output, title=t("voice.reasons_title", customers=customers))


@voice_app.command("beside")
def beside(
    since: SinceOpt = None,
    definition: Annotated[
        str | None, typer.Option("--definition", help="Churn definition (default: every one).")
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """Stated reasons beside the churn model's top reason for the same customers."""
    con = wh.connect(settings=settings(), read_only=True)
    frame = stated_beside_model(con, definition=definition, since=since)
    emit(frame, fmt, output, title=t("voice.beside_title"))


@voice_app.command("themes")
def themes(
    since: SinceOpt = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Interaction kinds to read (repeatable; default all)."),
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", min=1, max=50, help="Number of themes (default 10).")
    ] = None,
    quotes: Annotated[int, typer.Option("--quotes", min=0, max=10)] = 3,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """Themes in the free text customers wrote, each with its top terms and quotes."""
    con = wh.connect(settings=settings(), read_only=True)
    texts = customer_texts(con, kinds=kind, since=since)
    found = find_themes(list(texts["text"]), k, quotes=quotes)
    quote_columns = [f"quote_{i + 1}" for i in range(quotes)]
    columns = ["theme", "label", "texts", "share", "terms", *quote_columns]
    frame = pd.DataFrame(
        [
            [th.theme, th.label, th.size, th.share, ", ".join(th.terms)]
            + [th.quotes[i] if i < len(th.quotes) else "" for i in range(quotes)]
            for th in found.themes
        ],
        columns=columns,
    )
    if fmt is OutputFormat.csv:  # customers' words must not run as formulas in a spreadsheet
        text = ["label", "terms", *quote_columns]
        frame[text] = frame[text].map(csv_cell)
    emit(frame, fmt, output, title=t("voice.themes_title", texts=format_number(len(texts))))
