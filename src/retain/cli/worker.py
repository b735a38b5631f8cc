"""``retain worker``: deliver the outbox (e-mail over SMTP, signed webhooks).

With ``--once`` it drains the due messages and exits (cron, tests, the demo); without it, it keeps
polling until interrupted. Any number of workers may run at once: each message is claimed by one
(see :mod:`retain.engage.outbox`).
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from retain.cli._app import app, console, err_console, settings, state
from retain.i18n import t

__all__ = ["worker"]


@app.command()
def worker(
    once: Annotated[
        bool,
        typer.Option("--once", help="Drain the due messages and exit (default: keep polling)."),
    ] = False,
    interactions: Annotated[
        bool,
        typer.Option(
            "--interactions/--no-interactions",
            help="Append each delivery and failure to the warehouse's interactions table.",
        ),
    ] = True,
) -> None:
    """Deliver queued messages (e-mail, webhooks) from the outbox, retrying failures."""
    from retain.app import make_engine, make_sessionmaker, upgrade
    from retain.engage.outbox import counts
    from retain.engage.schedule import Scheduler
    from retain.engage.worker import Worker

    cfg = settings()
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    stop = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sessions = make_sessionmaker(engine)
        runner = Worker(cfg, sessions, log_interactions=interactions)
        if "email" not in runner.channels():
            err_console.print(t("engage.no_smtp"), t("engage.no_smtp_hint"), sep="\n")
        scheduler = Scheduler(cfg, sessions, config_path=state.config_path)

        def jobs() -> None:
            for outcome in scheduler.run_due():
                _show(outcome)

        if once:
            jobs()
            report = runner.drain(stop=stop)
        else:
            report = runner.run(stop, each_round=jobs)
        with sessions() as session:
            queued = counts(session)
            waiting = runner.undeliverable(session)
        console.print(
            t(
                "engage.worker_summary",
                sent=report.sent,
                retried=report.retried,
                failed=report.failed,
                dead=report.dead,
                queued=queued["queued"] + queued["sending"],
            )
        )
        if report.cancelled:  # withdrawn before sending: not failures, said apart
            console.print(t("engage_outbox.worker_cancelled", count=report.cancelled))
        if waiting.get("sms"):  # never claimed without a gateway: said plainly, with the setting
            console.print(t("engage_outbox.worker_sms_waiting", count=waiting["sms"]))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.dispose()


def _show(outcome: Any) -> None:
    key = "engage.job_succeeded" if outcome.succeeded else "engage.job_failed"
    text = t(key, job=outcome.job, attempt=outcome.attempt, detail=outcome.detail[-300:])
    (console if outcome.succeeded else err_console).print(text, markup=False)
