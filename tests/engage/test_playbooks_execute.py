"""A run's decisions written: outbox rows in each customer's language, holdouts, action tasks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from _engage_data import AS_OF, CUSTOMERS, orders, sources
from sqlalchemy import select

import retain.warehouse as wh
from retain.app import make_engine, make_sessionmaker, upgrade
from retain.config import Settings
from retain.engage._tables import DeliveryAttempt, OutboxMessage
from retain.engage.decisions import decide
from retain.engage.execute import execute, guardrails, task_key
from retain.engage.playbooks import parse_playbooks, shipped_playbooks
from retain.ingest import ingest

TEXT = """
[caps]
categories = { marketing = 5 }

[[playbook]]
name = "winback"
trigger = { kind = "inactive", days = 60 }
holdout = 0.3
template = "winback"
offer = { name = "10% off", cost = 2.0 }
action = { kind = "save_desk", queue = "retention", url = "https://crm.example/tasks" }
"""


def test_execute_queues_in_language_records_holdouts_and_tasks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    ingest("customers", pd.DataFrame(CUSTOMERS), con=con)
    ingest("orders", orders(), con=con)
    settings = Settings(database_url=url, warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    playbooks = parse_playbooks(
        TEXT, source="t.toml", template_dirs=shipped_playbooks().template_dirs
    )
    decisions = decide(playbooks, sources(), AS_OF)
    going = decisions[decisions["status"].isin(["send", "delayed"])]
    held = decisions[decisions["status"] == "holdout"]
    assert len(going) and len(held)
    with sessions() as session:
        report = execute(session, decisions, playbooks, settings=settings, now=AS_OF, con=con)
        session.commit()
    assert (report.queued, report.holdouts, report.tasks) == (len(going), len(held), len(going))
    with sessions() as session:
        rows = {r.idempotency_key: r for r in session.scalars(select(OutboxMessage))}
    for dec in going.to_dict("records"):
        row = rows[dec["key"]]
        payload = json.loads(row.payload)
        assert row.language == dec["language"] and row.recipient == dec["recipient"]
        if dec["language"] == "ko":
            assert payload["subject"] in ("보고 싶었어요", "지난 방문 이후 새로워졌어요")
            assert "10% off" in payload["body"]
        if dec["status"] == "delayed":
            assert row.next_attempt_at == pd.Timestamp(dec["send_at"]).to_pydatetime()
        task = rows[task_key(dec["key"])]
        assert task.channel == "webhook" and task.recipient == "https://crm.example/tasks"
        body = json.loads(task.payload)
        assert (
            body["queue"] == "retention" and body["customer"]["customer_id"] == dec["customer_id"]
        )
        assert not task.advertising
    recorded = con.table("interactions").to_pandas()
    assert sorted(recorded["customer_id"]) == sorted(held["customer_id"])
    # the control is one group per playbook, whatever variant the customer would have had
    assert set(recorded["campaign_id"]) == {"winback"} and set(recorded["kind"]) == {"holdout"}
    # the next run: every occurrence is used, and the tasks do not count against the caps
    with sessions() as session:
        rails = guardrails(session, sources_with(con), playbooks, now=AS_OF + dt.timedelta(hours=1))
    assert {d for d in decisions["key"] if d in rails.already} == set(going["key"]) | set(
        held["key"]
    )
    assert len(rails.history) == len(going)
    again = decide(playbooks, sources(), AS_OF, guardrails=rails)
    assert set(again["reason"]) <= {"already_messaged", "no_consent", "suppressed"}
    con.disconnect()


def sources_with(con: object) -> object:
    from retain.features import Sources

    return Sources.from_warehouse(con)  # type: ignore[arg-type]


def test_a_later_higher_priority_run_withdraws_the_waiting_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    settings = Settings(database_url=url, warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    low = """
[caps]
categories = { marketing = 1 }

[[playbook]]
name = "low"
trigger = { kind = "inactive", days = 60 }
holdout = 0.0
template = "winback"
priority = 1
"""
    high = low + low.split("[caps]\ncategories = { marketing = 1 }\n")[1].replace(
        'name = "low"', 'name = "high"'
    ).replace("priority = 1", "priority = 5").replace(
        'template = "winback"', 'template = "renewal"'
    )
    dirs = shipped_playbooks().template_dirs
    first = parse_playbooks(low, source="low.toml", template_dirs=dirs)
    both = parse_playbooks(high, source="both.toml", template_dirs=dirs)
    with sessions() as session:
        rails = guardrails(session, sources(), first, now=AS_OF)
        decisions = decide(first, sources(), AS_OF, guardrails=rails)
        report = execute(session, decisions, first, settings=settings, now=AS_OF)
        session.commit()
    queued = report.queued
    assert queued > 0
    later = AS_OF + dt.timedelta(hours=1)
    with sessions() as session:
        rails = guardrails(session, sources(), both, now=later)
        decisions = decide(both, sources(), later, names=["high"], guardrails=rails)
        withdrawn = decisions.attrs["withdrawn"]
        assert len(withdrawn) == queued and all(k.startswith("low:") for k in withdrawn)
        report = execute(session, decisions, both, settings=settings, now=later)
        session.commit()
    assert report.withdrawn == queued and report.queued == queued
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    states = {(r.playbook, r.state) for r in rows}
    assert states == {("low", "cancelled"), ("high", "queued")}
    assert {r.cancel_reason for r in rows if r.playbook == "low"} == {"preempted"}
    assert all("withdrawn" in (r.last_error or "") for r in rows if r.playbook == "low")
    # each withdrawn message has its cancelled attempt, so it reaches interactions as
    # message_cancelled (docs/engage.md) like a cancellation at send time
    with sessions() as session:
        attempts = session.scalars(select(DeliveryAttempt)).all()
    low_ids = {r.message_id for r in rows if r.playbook == "low"}
    assert {a.message_id for a in attempts if a.outcome == "cancelled"} == low_ids
    assert all(not a.logged for a in attempts)
