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

import datetime as dt
import json
from enum import StrEnum
from typing import Annotated, Any

import pandas as pd
import typer

import retain.warehouse as wh
from retain.cli._app import app, settings
from retain.cli.metrics import FormatOpt, OutputFormat, OutputOpt, emit
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.voice.nps import NpsResult, answers_from_interactions, latest_answers, nps

__all__ = ["surveys_app"]

surveys_app = typer.Typer(
    help="Surveys: NPS with a confidence interval, by segment and over time.",
    no_args_is_help=True,
)
app.add_typer(surveys_app, name="surveys")

COLUMNS = ["nps", "ci_low", "ci_high", "responses", "promoters", "passives", "detractors"]


class Period(StrEnum):
    """The periods ``--over`` splits by."""

    week = "week"
    month = "month"
    quarter = "quarter"


_FREQ = {Period.week: "W", Period.month: "M", Period.quarter: "Q"}


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameterError(t("voice_surveys.bad_since", value=value)) from None


def _answers(con: Any, survey: str, since: dt.datetime | None) -> pd.DataFrame:
    it = con.table("interactions")
    it = it.filter(it.kind == "survey_answer")
    if since is not None:
        it = it.filter(it.occurred_at >= since)
    frame = it.select("customer_id", "occurred_at", "kind", "properties").to_pandas()
    return answers_from_interactions(frame, survey)


def _attribute(con: Any, answers: pd.DataFrame, column: str) -> pd.DataFrame:
    """``answers`` with ``column``: a customers column, or the latest ``segment:SCHEME``."""
    if column.startswith("segment:"):
        from retain.targeting.segments import membership_dates, memberships

        scheme = column.split(":", 1)[1]
        dates = membership_dates(con, scheme)
        if not dates:
            return answers.assign(**{column: "unknown"})
        members = memberships(con, scheme, dates[-1]).to_pandas()
        segment = members.set_index("customer_id")["segment"]
        return answers.assign(**{column: answers["customer_id"].map(segment).fillna("unknown")})
    customers = con.table("customers")
    if column == "customer_id" or column not in customers.columns:
        allowed = ", ".join(c for c in customers.columns if c != "customer_id")
        raise InvalidParameterError(t("voice_surveys.bad_by", by=column, allowed=allowed))
    values = customers.select("customer_id", column).to_pandas()
    return answers.merge(values, on="customer_id", how="left")


def _row(key: dict[str, Any], result: NpsResult) -> dict[str, Any]:
    return {**key, **result.as_dict()}


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
        answers = _answers(con, survey, _since(since))
        keys: list[str] = []
        if by is not None:
            answers = _attribute(con, answers, by)
            answers[by] = answers[by].fillna("").astype(str)
            keys.append(by)
        if over is not None:
            when = pd.to_datetime(answers["occurred_at"])
            answers["period"] = when.dt.to_period(_FREQ[over]).astype(str)
            keys.append("period")
    finally:
        con.disconnect()
    if not keys:
        overall = nps(latest_answers(answers)["score"])
        if fmt is OutputFormat.json and output is None:
            typer.echo(json.dumps(overall.as_dict(), ensure_ascii=False, indent=1))
            return
        frame = pd.DataFrame([overall.as_dict()], columns=COLUMNS)
    else:
        rows = [
            _row(dict(zip(keys, k, strict=True)), _group(g))
            for k, g in answers.groupby(keys, sort=True)
        ]
        frame = pd.DataFrame(rows, columns=[*keys, *COLUMNS])
    result = nps(latest_answers(answers)["score"])
    title = (
        t("voice_surveys.nps_summary", **result.as_dict())
        if result.responses
        else t("voice_surveys.no_answers")
    )
    emit(frame, fmt, output, title=title)


def _group(group: pd.DataFrame) -> NpsResult:
    return nps(latest_answers(group)["score"])


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
