"""The demo's history of playbook runs: retain's own engine decided them, the demo planted effects.

``retain demo`` calls :func:`plant_playbook_history` right after loading. At each past run date
(:func:`retain.demo._playbooks.playbook_run_dates`) the shipped playbooks are decided exactly as
``retain playbooks run --as-of`` would: the same guardrails read from the warehouse
(:func:`retain.engage.execute.guardrails`, on an empty outbox with the earlier runs' keys added),
the same :func:`retain.engage.decisions.decide` with its stable hashed holdout, the holdouts
recorded by :func:`retain.engage.execute.holdout_records`. Every e-mail it would queue is taken as
delivered at its ``send_at`` (a ``message_sent`` in the shape the worker writes), and the
demo's planted effect adds the orders it induces (:func:`retain.demo._playbooks.induced_orders`)
before the next run is decided, so a customer won back is not silent at the next one. The truth
(each playbook's true effect, every assigned customer's ``y0`` and ``y1``) goes to
``demo_truth_playbooks`` and ``demo_truth_playbook_customers`` and, with a folder, to
``truth_playbooks.csv`` and ``truth_playbook_customers.csv``.

It is orchestration of the engage layer over the demo's truth, so it lives at the edge, beside
the command that runs it (DESIGN.md "Layers": the demo package sits below engage).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

import retain.warehouse as wh

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings
    from retain.engage.playbooks import PlaybookSet

__all__ = ["PlaybookHistory", "plant_playbook_history"]

_DETAIL = "demo history"


@dataclass
class PlaybookHistory:
    """What the past runs wrote: run moments, messages, holdouts, induced orders, the truth."""

    runs: list[dt.datetime] = field(default_factory=list)
    messages: int = 0
    holdouts: int = 0
    orders: int = 0
    playbooks: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per playbook: ``runs, window_days, redemption, n_treatment, n_holdout, true_effect``."""
    customers: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per playbook and assigned customer: ``group, variant, assigned_at, y0, y1``."""


def _campaign_ids(playbooks: PlaybookSet) -> dict[str, bool]:
    """Per playbook: whether its template has several variants (its rows then name one)."""
    from retain.engage.messages import load_template

    return {
        p.name: len(load_template(p.template, playbooks.template_dirs).variants) > 1
        for p in playbooks.playbooks
    }


def _sent_rows(sent: pd.DataFrame, split: dict[str, bool]) -> pd.DataFrame:
    """``message_sent`` interactions for delivered decisions, as the outbox worker writes them."""
    from retain.engage.outbox import message_id_for

    keys = [str(k) for k in sent["key"]]
    ids = [message_id_for(k) for k in keys]
    return pd.DataFrame(
        {
            "interaction_id": [f"msg-{m}-1" for m in ids],
            "customer_id": sent["customer_id"].astype(str).to_list(),
            "occurred_at": sent["assigned_at"].to_list(),
            "kind": "message_sent",
            "channel": sent["channel"].to_list(),
            "campaign_id": [
                f"{p}:{v}" if split[p] else p
                for p, v in zip(sent["playbook"], sent["variant"], strict=True)
            ],
            "properties": [
                json.dumps(
                    {"message_id": m, "attempt": 1, "outcome": "sent", "detail": _DETAIL, "key": k}
                )
                for m, k in zip(ids, keys, strict=True)
            ],
        }
    )


def _decide(
    con: BaseBackend, playbooks: PlaybookSet, run: dt.datetime, sent_keys: set[str]
) -> pd.DataFrame:
    """The shipped playbooks' decisions as of ``run``, with the guardrails a real run reads."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import StaticPool

    from retain.appdb import Base
    from retain.engage.decisions import decide
    from retain.engage.execute import guardrails
    from retain.features import Sources

    sources = Sources.from_warehouse(con)
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            rails = guardrails(session, sources, playbooks, now=run)
    finally:
        engine.dispose()
    # the outbox of the earlier runs is not kept: their keys stand for it (the re-entry rule)
    rails = dataclasses.replace(rails, already=rails.already | frozenset(sent_keys))
    return decide(playbooks, sources, run, now=run, guardrails=rails)


def _assigned(decisions: pd.DataFrame, playbooks: PlaybookSet, run: dt.datetime) -> pd.DataFrame:
    """Treated (e-mails delivered at ``send_at``) and held-out customers of one run."""
    sent = decisions[
        decisions["status"].isin(["send", "delayed"]) & (decisions["channel"] == "email")
    ]
    held = decisions[decisions["status"] == "holdout"]
    arms = [
        sent.assign(arm="treated", assigned_at=pd.to_datetime(sent["send_at"]).dt.floor("s")),
        held.assign(arm="holdout", assigned_at=pd.Timestamp(run)),
    ]
    frame = pd.concat([a for a in arms if len(a)] or arms[:1], ignore_index=True)
    from retain.engage.results import results_window

    by_name = {p.name: p for p in playbooks.playbooks}
    frame["run_at"] = pd.Timestamp(run)
    frame["window_days"] = [results_window(by_name[n]) for n in frame["playbook"]]
    frame["offer"] = [
        by_name[n].offer.name if by_name[n].offer else None  # type: ignore[union-attr]
        for n in frame["playbook"]
    ]
    return frame


def plant_playbook_history(
    con: BaseBackend,
    settings: Settings,
    *,
    seed: int,
    start: dt.datetime,
    months: int,
    folder: Path | None = None,
) -> PlaybookHistory:
    """Run the shipped playbooks at the demo's past run dates and plant their effects.

    See the module docstring. ``seed``, ``start`` and ``months`` are the demo's options (the
    effect's draws follow the seed). Writes through ingestion into ``con``.
    """
    from retain.demo import DemoParameters
    from retain.demo._playbooks import (
        ASSIGNED_COLUMNS,
        induced_orders,
        playbook_run_dates,
        playbook_truth,
    )
    from retain.engage.execute import holdout_records
    from retain.engage.playbooks import shipped_playbooks
    from retain.ingest import ingest

    params = DemoParameters()
    playbooks = shipped_playbooks()
    split = _campaign_ids(playbooks)
    history = PlaybookHistory(runs=playbook_run_dates(params, start, months))
    truth = con.table("demo_truth_customers")
    customers = truth.select("customer_id", "line", "acquired_at", "death_at").to_pandas()
    sent_keys: set[str] = set()
    parts: list[pd.DataFrame] = []
    for index, run in enumerate(history.runs):
        decisions = _decide(con, playbooks, run, sent_keys)
        assigned = _assigned(decisions, playbooks, run)
        drawn, orders, lines = induced_orders(
            assigned[[*ASSIGNED_COLUMNS, "key", "channel"]],
            customers,
            params,
            seed=seed,
            run=index,
        )
        treated = drawn[drawn["arm"] == "treated"]
        sent_keys |= set(treated["key"].astype(str))
        held = holdout_records(decisions, now=run)
        rows = [part for part in (held, _sent_rows(treated, split)) if len(part)]
        kwargs: dict[str, Any] = {"con": con, "settings": settings, "on_error": "reject"}
        if rows:
            ingest("interactions", pd.concat(rows, ignore_index=True), **kwargs)
        if len(orders):
            ingest("orders", orders, **kwargs)
            ingest("order_lines", lines, **kwargs)
        history.messages += len(treated)
        history.holdouts += len(held)
        history.orders += len(orders)
        parts.append(drawn)
    if not parts:
        return history
    completed = con.table("orders")
    completed = completed.filter(completed.status == "completed").select(
        "order_id", "customer_id", "ordered_at"
    )
    history.playbooks, history.customers = playbook_truth(
        pd.concat(parts, ignore_index=True), completed.to_pandas(), params
    )
    for name, frame in (
        ("demo_truth_playbooks", history.playbooks),
        ("demo_truth_playbook_customers", history.customers),
    ):
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        wh.write_table(con, name, arrow)
        if folder is not None:
            import pyarrow.csv as pacsv

            pacsv.write_csv(arrow, Path(folder) / f"{name.removeprefix('demo_')}.csv")
    return history
