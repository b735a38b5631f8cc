"""``retain savedesk intake | close | rates`` and ``retain tickets import | export``.

``savedesk intake`` queues the hosted cancellations that asked for a call and routes the open
cases to the agents given as ``--agent EMAIL:CAPACITY``; each case shows the planner's action
for its customer from the plan the API's intake and the cancellation page use
(:func:`retain.voice.offer_plan.intake_plan`: the ``[savedesk]`` budget, or ``--budget`` as
``retain plan --budget``); ``savedesk close CASE
saved|cancelled`` records an outcome. ``savedesk rates`` reports save rates of closed save-desk
cases per agent, reason or offer with Wilson 95% intervals (``--random-only`` keeps the
randomly routed cases, free of the routing's selection). ``tickets import FILE`` opens a ticket
per CSV row (idempotent on ``ticket_id``) and ``tickets export`` writes every ticket as CSV
with formula-like text neutralised.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from retain.cli._app import app, console, settings
from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["savedesk_app", "tickets_app"]

savedesk_app = typer.Typer(
    help="The save desk: save rates per agent, reason and offer, with intervals.",
    no_args_is_help=True,
)
app.add_typer(savedesk_app, name="savedesk")
tickets_app = typer.Typer(
    help="Complaints and tickets: import them from a CSV file, export them.", no_args_is_help=True
)
app.add_typer(tickets_app, name="tickets")


class RateFormat(StrEnum):
    """How save rates are printed."""

    table = "table"
    json = "json"


class GroupBy(StrEnum):
    """What save rates are grouped by."""

    agent = "agent"
    reason = "reason"
    offer = "offer"
    kind = "kind"
    segment = "segment"
    value_band = "value_band"


@savedesk_app.command("rates")
def rates(
    by: Annotated[GroupBy, typer.Option("--by", help="agent (default), reason or offer.")] = (
        GroupBy.agent
    ),
    fmt: Annotated[
        RateFormat, typer.Option("--format", "-f", help="table (default) or json.")
    ] = RateFormat.table,
    random_only: Annotated[
        bool, typer.Option("--random-only", help="Only the randomly routed cases.")
    ] = False,
) -> None:
    """Save rates of closed save-desk cases with Wilson 95% intervals."""
    from retain.app import make_engine, make_sessionmaker, upgrade
    from retain.voice.savedesk import rates as save_rates

    cfg = settings()
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            found = save_rates(session, by=by.value, randomized_only=random_only)
    finally:
        engine.dispose()
    if fmt is RateFormat.json:
        console.print_json(json.dumps([asdict(r) for r in found]))
        return
    from rich.table import Table

    table = Table(by.value, "cases", "saved", "rate", "95% interval", "random")
    for r in found:
        table.add_row(
            r.group,
            f"{r.cases:,}",
            f"{r.saved:,}",
            f"{r.rate:.1%}",
            f"{r.ci_low:.1%} - {r.ci_high:.1%}",
            f"{r.random_cases:,}",
        )
    console.print(table)


def _agent(spec: str) -> tuple[str, int]:
    name, _, capacity = spec.rpartition(":")
    if not name or not capacity.isdigit():
        raise InvalidParameterError(t("voice_cases.bad_agent", spec=spec))
    return name, int(capacity)


@savedesk_app.command("intake")
def intake(
    agent: Annotated[
        list[str],
        typer.Option("--agent", help="An agent and their capacity, EMAIL:CAPACITY (repeatable)."),
    ],
    explore: Annotated[
        float, typer.Option("--explore", help="Share of cases routed at random (default 0.1).")
    ] = 0.1,
    high_risk: Annotated[
        str | None,
        typer.Option(
            "--high-risk",
            help="Also queue high-risk high-value customers of this churn definition.",
        ),
    ] = None,
    min_risk: Annotated[
        float, typer.Option("--min-risk", help="Churn probability from which risk is high.")
    ] = 0.5,
    min_value: Annotated[
        float, typer.Option("--min-value", help="CLV from which value is high.")
    ] = 1000.0,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget",
            min=0,
            help="Plan the offers with this budget, as `retain plan --budget` (default: the "
            "save desk's plan, [savedesk] budget, as the API's intake and the cancel page).",
        ),
    ] = None,
    definition: Annotated[
        str | None,
        typer.Option(
            "--definition", help="With --budget: the business line the plan covers (first)."
        ),
    ] = None,
) -> None:
    """Queue cancellations (and high-risk high-value customers) and route open cases."""
    import retain.warehouse as wh
    from retain.app import make_engine, make_sessionmaker, upgrade
    from retain.voice import savedesk
    from retain.voice.intake import intake
    from retain.voice.offer_plan import intake_offers

    agents = [savedesk.Agent(*_agent(spec)) for spec in agent]
    cfg = settings()
    con = wh.connect(settings=cfg)
    try:
        found = savedesk.high_risk_candidates(con, high_risk) if high_risk is not None else []
        planned = intake_offers(con, cfg, budget=budget, definition=definition)
    finally:
        con.disconnect()
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            done = intake(
                session,
                agents,
                planned_offers=planned,
                high_risk=found,
                min_risk=min_risk,
                min_value=min_value,
                explore=explore,
            )
            routed = done.routed
            session.commit()
    finally:
        engine.dispose()
    console.print(t("voice_cases.routed", count=len(routed)))


@savedesk_app.command("close")
def close(
    case: Annotated[int, typer.Argument(help="The case's id.")],
    outcome: Annotated[str, typer.Argument(help="saved or cancelled.")],
    offer: Annotated[
        str | None, typer.Option("--offer", help="The offer made (default: the recommended one).")
    ] = None,
) -> None:
    """Record a save-desk case's outcome."""
    from retain.app import make_engine, make_sessionmaker, upgrade
    from retain.voice import savedesk
    from retain.voice._case_tables import SaveDeskTask

    cfg = settings()
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            task = session.get(SaveDeskTask, case)
            if task is None:
                raise InvalidParameterError(t("voice_cases.no_case", case=case))
            savedesk.record_outcome(session, task, outcome, offer=offer)
            session.commit()
            shown = t(f"voice_cases.outcome_{outcome}")
    finally:
        engine.dispose()
    console.print(f"{case}: {shown}")


@tickets_app.command("import")
def import_tickets(
    path: Annotated[Path, typer.Argument(help="CSV file: customer_id, subject, ...")],
) -> None:
    """Open a ticket per row of a CSV file and queue each customer's acknowledgement."""
    from retain.app import make_engine, make_sessionmaker, upgrade
    from retain.voice.tickets import append_interactions, import_file

    cfg = settings()
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            made = import_file(session, path)
            session.commit()
            append_interactions(session, cfg)
    finally:
        engine.dispose()
    console.print(t("voice_cases.tickets_imported", count=len(made)))


@tickets_app.command("export")
def export_tickets(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Every ticket as CSV (formula-like text neutralised)."""
    from retain.app import make_engine, make_sessionmaker, upgrade
    from retain.voice.tickets import export_csv

    cfg = settings()
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            text = export_csv(session)
    finally:
        engine.dispose()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
