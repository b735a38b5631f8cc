"""``retain surveys nps|flush``: Net Promoter Score from the answers in ``interactions``.

``nps`` reads every ``survey_answer`` interaction of the survey (``nps`` by default) from the
warehouse, wherever it came from (the survey pages, ``retain ingest interactions``, the API),
counts each customer's latest answer once and prints ``nps`` (points, -100..100), ``ci_low``,
``ci_high`` (95 % Wald interval, :mod:`retain.voice.nps`), ``responses``, ``promoters``,
``passives`` and ``detractors``; ``--by ATTRIBUTE`` splits by a column of ``customers`` (one row
per value) or ``segment:SCHEME`` (each customer's stored segment on the scheme's latest date),
``--over month|week|quarter`` by the period of the answer. ``flush`` appends answers
and exit reasons the service could not append at once (a busy warehouse). ``invite SURVEY``
e-mails invitations to an audience (a segment, or a file of customer ids) through the engage
outbox, signed with the service's secret, so ``retain worker`` delivers them.
"""

from __future__ import annotations

import csv
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

import retain.warehouse as wh
from retain.cli._app import app, settings
from retain.cli.metrics import FormatOpt, OutputFormat, OutputOpt, emit
from retain.errors import InvalidParameterError
from retain.i18n import normalize_language, t
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


class Language(StrEnum):
    """The languages a survey page speaks."""

    en = "en"
    ja = "ja"
    ko = "ko"


def _ids_from_file(path: Path) -> list[str]:
    """Customer ids from a file: one per line, or a CSV with a ``customer_id`` column."""
    text = path.read_text(encoding="utf-8-sig")
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and "customer_id" in next(csv.reader([lines[0]])):
        ids = [row.get("customer_id") or "" for row in csv.DictReader(lines)]
    else:
        ids = lines
    found = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not found:
        raise InvalidParameterError(t("voice_surveys.invite_no_ids", path=path))
    return found


def _segment_ids(con: Any, segment: str, scheme: str | None) -> list[str]:
    """A stored segment's customers on its latest date, or a saved segment's members."""
    import pandas as pd

    from retain.cli._segment_rules import find_saved
    from retain.targeting.segments import (
        SEGMENT_NAMES,
        check_segment,
        membership_dates,
        memberships,
        require_stored,
    )
    from retain.targeting.segments.saved import members_of

    if scheme is None and segment not in SEGMENT_NAMES["rfm"]:
        found = find_saved(segment)
        if found is not None:
            table, _ = members_of(con, found[1], line=settings().churn_definition(None))
            return [str(v) for v in table.to_pandas()["customer_id"]]
    scheme = scheme or "rfm"
    check_segment(scheme, segment)
    dates = membership_dates(con, scheme)
    stamp = require_stored(con, scheme, dates[-1] if dates else pd.Timestamp.now().normalize())
    frame = memberships(con, scheme, stamp, segment).to_pandas()
    return [str(v) for v in frame["customer_id"]]


@surveys_app.command("invite")
def invite_command(
    survey: Annotated[str, typer.Argument(help="nps, csat, ces or a defined survey's name.")],
    segment: Annotated[
        str | None,
        typer.Option(
            "--segment", help="A stored segment (champions, at_risk...) or a saved segment's name."
        ),
    ] = None,
    scheme: Annotated[
        str | None,
        typer.Option("--scheme", help="rfm, frequency or value_risk: a stored segment's scheme."),
    ] = None,
    customers: Annotated[
        Path | None,
        typer.Option(
            "--customers",
            help="A file of customer ids: one per line, or a CSV with a customer_id column.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    language: Annotated[
        Language | None,
        typer.Option("--language", help="The page's language (default: each customer's own)."),
    ] = None,
    ttl_days: Annotated[
        float, typer.Option("--ttl-days", min=0.01, max=90, help="Days a link works.")
    ] = 14.0,
) -> None:
    """E-mail survey invitations to a segment or a list of customers, through the outbox.

    Each customer gets a signed link valid ``--ttl-days`` days, in their language; customers
    without an e-mail address, or already holding an open invitation to the survey, are
    skipped. ``retain worker`` delivers the e-mails.
    """
    import datetime as dt

    from retain.app import make_engine, make_sessionmaker, service_secret, upgrade
    from retain.voice import surveys

    if (segment is None) == (customers is None):
        raise InvalidParameterError(t("voice_surveys.invite_audience"))
    cfg = settings()
    con = wh.connect(settings=cfg, read_only=True)
    try:
        ids = _ids_from_file(customers) if customers is not None else []
        if segment is not None:
            ids = _segment_ids(con, segment, scheme)
        table = con.table("customers")
        rows = (
            table.filter(table.customer_id.isin(ids))
            .select("customer_id", "email", "language")
            .to_pandas()
        )
    finally:
        con.disconnect()
    # A tag as loaded (ja-JP, KO, ko_KR) is the customer's language (en, ja or ko), as the
    # service reads one everywhere else; only a missing one leaves the survey's default.
    known = {
        str(r.customer_id): (
            None if r.email is None else str(r.email),
            normalize_language(r.language) if isinstance(r.language, str) else None,
        )
        for r in rows.itertuples(index=False)
    }
    recipients = [(cid, *known.get(cid, (None, None))) for cid in ids]
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            done = surveys.invite_audience(
                session,
                service_secret(session, cfg.service.secret_key),
                survey=survey,
                recipients=recipients,
                base_url=cfg.engage.public_url,
                language=language.value if language is not None else None,
                ttl=dt.timedelta(days=ttl_days),
            )
            session.commit()
    finally:
        engine.dispose()
    typer.echo(
        t(
            "voice_surveys.invite_done",
            invited=len(done.invited),
            survey=survey,
            no_email=len(done.no_email),
            already=len(done.already_invited),
        )
    )
