"""``retain playbooks load | run | results``: check, run (or dry-run) and measure playbooks.

``load FILE`` checks a playbook file and its templates and lists what it holds. ``run`` decides
who gets what as of a date; with ``--dry-run`` it only prints the decisions (who would get what,
on which channel, who is held out, who is skipped and why), otherwise it records the holdouts
and queues the messages in the outbox for ``retain worker``. ``results NAME`` compares the
playbook's treated customers with its holdout. The playbooks come from ``--file``, else
``playbooks.toml`` beside retain.toml, else the shipped ones.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

import retain.warehouse as wh
from retain.cli._app import app, console, settings, state
from retain.cli.metrics import OutputFormat, OutputOpt, emit
from retain.engage.decisions import summary
from retain.engage.execute import execute, message_context, run_playbooks
from retain.engage.messages import MessageTemplate, load_template, render
from retain.engage.playbook_versions import effective_book
from retain.engage.playbooks import PlaybookSet, load_playbooks, shipped_playbooks
from retain.engage.results import playbook_results
from retain.errors import InvalidParameterError
from retain.features import Sources
from retain.i18n import format_number, t

__all__ = ["playbooks_app"]

playbooks_app = typer.Typer(
    help="Retention playbooks: check a playbook file, run it (or dry-run it) as of a date, and "
    "measure each playbook's lift against its holdout.",
    no_args_is_help=True,
)
app.add_typer(playbooks_app, name="playbooks")

FileOpt = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help="Playbook file (default: playbooks.toml beside retain.toml, else the shipped ones).",
    ),
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table (default), csv or json.")
]
_SHOWN = [
    "playbook",
    "customer_id",
    "status",
    "reason",
    "channel",
    "template",
    "variant",
    "language",
    "subject",
    "send_at",
    "occurrence",
]


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The terminal's copy of a table: headers in the reader's language."""
    return frame.rename(columns={c: t(f"engage_playbooks.col_{c}") for c in frame.columns})


def _playbooks(file: Path | None) -> PlaybookSet:
    if file is not None:
        return load_playbooks(file)
    base = Path(state.config_path).parent if state.config_path else Path.cwd()
    local = base / "playbooks.toml"
    return load_playbooks(local) if local.is_file() else shipped_playbooks()


def _moment(value: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameterError(
            t("engage_playbooks.bad_as_of", value=repr(value)),
            hint=t("engage_playbooks.bad_as_of_hint"),
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return stamp


@playbooks_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="The playbook file to check.")],
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Check a playbook file and its templates (errors name file, playbook and key)."""
    loaded = load_playbooks(file)
    rows = []
    for p in loaded.playbooks:
        template = load_template(p.template, loaded.template_dirs)
        rows.append(
            {
                "playbook": p.name,
                "trigger": p.trigger.kind,
                "channel": p.channel,
                "holdout": p.holdout,
                "category": p.category,
                "priority": p.priority,
                "template": p.template,
                "variants": ", ".join(template.variants),
                "languages": ", ".join(sorted(template.languages)),
            }
        )
    frame = pd.DataFrame(rows)
    title = t("engage_playbooks.loaded", file=str(file), count=format_number(len(rows)))
    emit(frame, fmt, None, title=title)


def _with_subjects(decisions: pd.DataFrame, playbooks: PlaybookSet) -> pd.DataFrame:
    """The decisions with each customer's rendered subject (what they would get)."""
    subjects = []
    templates: dict[str, MessageTemplate] = {}
    for record in decisions.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        playbook = playbooks.get(str(row["playbook"]))
        if playbook.template not in templates:
            templates[playbook.template] = load_template(playbook.template, playbooks.template_dirs)
        template = templates[playbook.template]
        context = message_context(row, playbooks)
        subjects.append(
            render(template, language=row["language"], variant=row["variant"], context=context)[1]
        )
    return decisions.assign(subject=subjects)


@playbooks_app.command("run")
def run(
    name: Annotated[str | None, typer.Argument(help="Run only this playbook.")] = None,
    as_of: Annotated[
        str,
        typer.Option("--as-of", help="Date (or date and UTC time) the run decides at."),
    ] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the decisions; write nothing.")
    ] = False,
    file: FileOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """Decide who gets what as of a date; queue it, or list it with --dry-run."""
    moment = _moment(as_of) if as_of else dt.datetime.now(dt.UTC).replace(tzinfo=None)
    playbooks = _playbooks(file)
    conf = settings()
    from retain.app import open_session

    report = None
    con: Any = wh.connect(settings=conf, read_only=True)
    try:
        sources = Sources.from_warehouse(con)
        with open_session(conf.database_url) as session:
            if file is None:  # the edits made through the API and the dashboard, too
                playbooks = effective_book(session, playbooks)
            decisions, _ = run_playbooks(
                session,
                sources,
                playbooks,
                settings=conf,
                now=moment,
                names=[name] if name else None,
                dry_run=True,
            )
            shown = _with_subjects(decisions, playbooks) if len(decisions) else decisions
            con.disconnect()  # the holdouts are written through ingest, which opens its own
            con = None
            if not dry_run:
                report = execute(session, decisions, playbooks, settings=conf, now=moment)
                session.commit()
    finally:
        if con is not None:
            con.disconnect()
    for playbook, why in decisions.attrs.get("unavailable", {}).items():
        console.print(t("engage_playbooks.unavailable", playbook=playbook, why=why))
    if fmt is OutputFormat.table and output is None:
        title = t("engage_playbooks.run_title", date=moment)
        emit(_readable(summary(decisions)), fmt, None, title=title)
    else:
        columns = [c for c in _SHOWN if c in shown.columns]
        emit(shown[columns] if len(shown) else shown, fmt, output, title="")
    if report is not None and fmt is OutputFormat.table:
        console.print(
            t(
                "engage_playbooks.queued",
                queued=format_number(report.queued),
                holdouts=format_number(report.holdouts),
                unsupported=format_number(report.unsupported),
            ),
            highlight=False,
        )
        if report.withdrawn:
            console.print(
                t("engage_playbooks.withdrawn", count=format_number(report.withdrawn)),
                highlight=False,
            )
        if report.tasks:
            console.print(
                t("engage_playbooks.tasks", tasks=format_number(report.tasks)), highlight=False
            )


def _flat(result: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for variant in result["variants"]:
        for metric, diff in variant["difference"].items():
            treated = variant["treated"]
            holdout = variant["holdout"]
            key = "revenue_per_customer" if metric == "revenue" else metric
            rows.append(
                {
                    "variant": variant["variant"],
                    "metric": metric,
                    "treated": treated[key],
                    "holdout": holdout[key],
                    "difference": None if diff is None else diff["estimate"],
                    "low_95": None if diff is None else diff["low"],
                    "high_95": None if diff is None else diff["high"],
                    "n_treated": treated["customers"],
                    "n_holdout": holdout["customers"],
                }
            )
    return pd.DataFrame(rows)


@playbooks_app.command("results")
def results(
    name: Annotated[str, typer.Argument(help="The playbook (or past campaign id).")],
    as_of: Annotated[
        str, typer.Option("--as-of", help="Count windows ended by this date (default: now).")
    ] = "",
    window_days: Annotated[
        int | None,
        typer.Option("--window-days", help="Attribution window (default: the playbook's)."),
    ] = None,
    file: FileOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Treated against holdout per variant: retention, conversion, revenue, lift and goal."""
    moment = _moment(as_of) if as_of else dt.datetime.now(dt.UTC).replace(tzinfo=None)
    playbooks = _playbooks(file)
    conf = settings()
    if file is None:  # a playbook added or edited through the API: its window and goal, too
        from retain.app import open_session

        with open_session(conf.database_url) as session:
            playbooks = effective_book(session, playbooks)
    known = {p.name: p for p in playbooks.playbooks}
    con = wh.connect(settings=conf, read_only=True)
    try:
        result = playbook_results(
            Sources.from_warehouse(con),
            name,
            as_of=moment,
            playbook=known.get(name),
            window_days=window_days,
        )
    finally:
        con.disconnect()
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    title = t(
        "engage_playbooks.results_title",
        name=name,
        days=result["window_days"],
        customers=format_number(result["customers"]),
        pending=format_number(result["pending"]),
    )
    flat = _flat(result)
    emit(_readable(flat) if fmt is OutputFormat.table else flat, fmt, None, title=title)
    if fmt is OutputFormat.table:
        for variant in result["variants"]:
            if variant["incremental_profit"] is not None:
                console.print(
                    t(
                        "engage_playbooks.profit",
                        variant=variant["variant"],
                        profit=format_number(round(variant["incremental_profit"], 2)),
                    ),
                    highlight=False,
                )
            goal = variant["goal"]
            if goal and goal.get("progress") is not None:
                console.print(
                    t(
                        "engage_playbooks.goal",
                        variant=variant["variant"],
                        metric=goal["metric"],
                        target=goal["target"],
                        progress=round(100 * goal["progress"]),
                    ),
                    highlight=False,
                )
