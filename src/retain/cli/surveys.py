"""``retain surveys nps|flush``: Net Promoter Score from the answers in ``interactions``.

``nps`` reads every ``survey_answer`` interaction of the survey (``nps`` by default) from the
warehouse, wherever it came from (the survey pages, ``retain ingest interactions``, the API),
counts each customer's latest answer once and prints ``nps`` (points, -100..100), ``ci_low``,
``ci_high`` (95 % Wald interval, :mod:`retain.voice.nps`), ``responses``, ``promoters``,
``passives`` and ``detractors``; ``--by ATTRIBUTE`` splits by a column of ``customers`` (one row
per value) or ``segment:SCHEME`` (each customer's stored segment on the scheme's latest date),
``--over month|week|quarter`` by the period of the answer. ``flush`` appends answers
and exit reasons the service could not append at once (a busy warehouse).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

import retain.warehouse as wh
from retain.cli._app import app, settings
from retain.cli.metrics import FormatOpt, OutputFormat, OutputOpt, emit
from retain.i18n import t
from retain.voice.nps_report import nps_report, parse_since

__all__ = ["surveys_app"]

surveys_app = typer.Typer(
    help="Surveys: NPS with a confidence interval, by segment and over time.",
    no_args_is_help=True,
)
app.add_typer(surveys_app, name="surveys")


class Period(StrEnum):
    """The periods ``--over`` splits by."""

    week = "week"
    month = "month"
    quarter = "quarter"


@surveys_app.command("nps")
def nps_command(
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="Split by a column of customers (e.g. country) or segment:SCHEME."
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only answers on or after this date.")
    ] = None,
    over: Annotated[
        Period | None, typer.Option("--over", help="Split by the period of the answer.")
    ] = None,
    survey: Annotated[str, typer.Option("--survey", help="The survey's name.")] = "nps",
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """NPS in points with its 95 % interval; each customer's latest answer counts once."""
    con = wh.connect(settings=settings(), read_only=True)
    try:
        report = nps_report(
            con,
            survey=survey,
            since=parse_since(since),
            by=by,
            over=over.value if over is not None else None,
        )
    finally:
        con.disconnect()
    if not report.keys and fmt is OutputFormat.json and output is None:
        typer.echo(json.dumps(report.overall.as_dict(), ensure_ascii=False, indent=1))
        return
    title = (
        t("voice_surveys.nps_summary", **report.overall.as_dict())
        if report.overall.responses
        else t("voice_surveys.no_answers")
    )
    emit(report.rows, fmt, output, title=title)


@surveys_app.command("flush")
def flush() -> None:
    """Append survey answers and exit reasons to ``interactions`` (idempotent, by their ids)."""
    from sqlalchemy import select

    from retain.app import make_engine, make_sessionmaker, upgrade
    from retain.voice import cancel, surveys
    from retain.voice._survey_tables import CancellationRecord

    cfg = settings()
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            count = surveys.append_interactions(session, cfg)
            stated = session.scalars(
                select(CancellationRecord.id).where(CancellationRecord.reason.is_not(None))
            ).all()
            exits = cancel.append_interactions(session, cfg, list(stated)) if stated else 0
    finally:
        engine.dispose()
    typer.echo(t("voice_surveys.flushed", count=count, exits=exits))
