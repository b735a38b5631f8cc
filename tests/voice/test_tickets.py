"""Complaints: validated stages, SLA breaches, stage e-mails, signed links, churn features."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pytest
from _case_db import SECRET, sessions, settings
from sqlalchemy import select

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.engage._tables import OutboxMessage
from retain.errors import InvalidParameterError
from retain.features import feature_snapshot
from retain.ingest import ingest
from retain.voice import tickets
from retain.voice._case_tables import Ticket, TicketUpdate

T0 = dt.datetime(2024, 3, 1, 9, 0)


def _open(session, **kw):
    values = dict(customer_id="C1", subject="Broken kettle", email="c1@example.com")
    values.update(kw)
    return tickets.open_ticket(session, opened_at=T0, **values)


def test_stages_move_only_along_the_allowed_paths(tmp_path):
    with sessions(tmp_path)() as session:
        ticket = _open(session)
        with pytest.raises(InvalidParameterError, match="cannot move to 'closed'"):
            tickets.move(session, ticket, "closed", at=T0)
        for stage in ("investigating", "waiting_for_customer", "investigating", "resolved"):
            tickets.move(session, ticket, stage, at=T0 + dt.timedelta(hours=1))
        tickets.move(session, ticket, "closed", at=T0 + dt.timedelta(hours=2))
        assert ticket.stage == "closed" and ticket.closed_at is not None
        for stage in tickets.STAGES:
            with pytest.raises(InvalidParameterError):
                tickets.move(session, ticket, stage)
        with pytest.raises(InvalidParameterError):
            tickets.move(session, ticket, "nonsense")


def test_sla_breaches_are_flagged_when_clocks_run_out(tmp_path):
    sla = tickets.Sla(respond_hours=4, resolve_hours=48)
    with sessions(tmp_path)() as session:
        late = _open(session, sla=sla, external_id="late")
        prompt = _open(session, sla=sla, external_id="prompt")
        tickets.move(session, prompt, "investigating", at=T0 + dt.timedelta(hours=3))
        assert tickets.refresh_breaches(session, at=T0 + dt.timedelta(hours=5)) == 1
        assert late.response_breached and not late.resolution_breached
        assert not prompt.response_breached
        # Already flagged: not counted again.
        assert tickets.refresh_breaches(session, at=T0 + dt.timedelta(hours=6)) == 0
        tickets.move(session, prompt, "resolved", at=T0 + dt.timedelta(hours=49))
        assert prompt.resolution_breached and not prompt.response_breached
        assert tickets.refresh_breaches(session, at=T0 + dt.timedelta(hours=60)) == 1
        assert late.resolution_breached


def test_each_stage_change_queues_one_email_in_the_customers_language(tmp_path):
    with sessions(tmp_path)() as session:
        ticket = _open(session, language="ja")
        tickets.move(session, ticket, "investigating", message="確認しています", at=T0)
        tickets.add_update(session, ticket, "internal only", visible=False)
        session.commit()
        mails = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert len(mails) == 2  # opening and one stage change; a note sends nothing
    assert all(m.language == "ja" and not m.advertising for m in mails)
    payload = json.loads(mails[1].payload)
    assert payload["stage"] == "investigating" and "調査中" in payload["subject"]
    assert "確認しています" in payload["body"] and "internal only" not in payload["body"]


def test_opening_twice_with_one_external_id_makes_one_ticket(tmp_path):
    with sessions(tmp_path)() as session:
        a = _open(session, external_id="T-9")
        b = _open(session, external_id="T-9", subject="other")
        assert a.id == b.id
        assert len(session.scalars(select(Ticket)).all()) == 1
        with pytest.raises(InvalidParameterError):
            _open(session, subject="  ")


def test_status_tokens_cannot_be_forged_or_used_after_expiry():
    expires = T0 + dt.timedelta(days=7)
    token = tickets.sign_status_token(SECRET, 42, expires)
    assert tickets.verify_status_token(SECRET, token, at=T0) == 42
    assert tickets.verify_status_token(SECRET, token, at=expires) is None
    assert tickets.verify_status_token(b"another-secret", token, at=T0) is None
    ticket_id, stamp, mac = token.split(".")
    later = str(int(stamp) + 86400 * 365)
    assert tickets.verify_status_token(SECRET, f"{ticket_id}.{later}.{mac}", at=T0) is None
    assert tickets.verify_status_token(SECRET, f"43.{stamp}.{mac}", at=T0) is None
    assert tickets.verify_status_token(SECRET, "garbage", at=T0) is None
    assert tickets.verify_status_token(SECRET, "", at=T0) is None


def test_import_file_is_idempotent_and_checks_columns(tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text(
        "ticket_id,customer_id,subject,language,opened_at\n"
        "X1,C1,=cmd|' /C calc'!A0,ko,2024-03-01T09:00:00+09:00\n"
        'X2,C2,"<script>alert(1)</script>",en,\n',
        encoding="utf-8",
    )
    with sessions(tmp_path)() as session:
        first = tickets.import_file(session, path)
        again = tickets.import_file(session, path)
        assert [t.id for t in first] == [t.id for t in again]
        assert first[0].opened_at == dt.datetime(2024, 3, 1, 0, 0)
        assert first[0].language == "ko" and first[1].subject.startswith("<script>")
        bad = tmp_path / "bad.csv"
        bad.write_text("customer_id,title\nC1,x\n", encoding="utf-8")
        with pytest.raises(InvalidParameterError, match="subject"):
            tickets.import_file(session, bad)


def test_complaints_reach_the_churn_features_through_interactions(tmp_path):
    cfg = settings(tmp_path)
    ingest("customers", pa.table({"customer_id": ["C1", "C2"]}), settings=cfg)
    maker = sessions(tmp_path)
    with maker() as session:
        done = _open(session, external_id="A")
        _open(session, external_id="B", customer_id="C2")
        tickets.move(session, done, "investigating", at=T0 + dt.timedelta(days=1))
        tickets.move(session, done, "resolved", at=T0 + dt.timedelta(days=3))
        session.commit()
        assert tickets.append_interactions(session, cfg) == 4
        assert tickets.append_interactions(session, cfg) == 0
        assert all(u.logged for u in session.scalars(select(TicketUpdate)))
    con = wh.connect(cfg.warehouse_url)
    try:
        rows = con.table("interactions").to_pandas()
        customers = con.table("customers").to_pandas()
    finally:
        con.disconnect()
    events = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "occurred_at": [T0, T0], "name": ["login", "login"]}
    )
    said = [json.loads(p) for p in rows[rows["kind"] == "complaint"]["properties"]]
    assert sorted(p["text"] for p in said) == ["Broken kettle", "Broken kettle"]
    kinds = sorted(rows["kind"])
    assert kinds == ["complaint", "complaint", "ticket_resolved"] + ["ticket_stage"] * 4
    snap = (
        feature_snapshot(
            {"customers": customers, "interactions": rows, "events": events},
            as_of="2024-04-01",
            definition=ChurnDefinition(activity="any"),
        )
        .to_pandas()
        .set_index("customer_id")
    )
    assert snap.loc["C1", "complaints_unresolved"] == 0
    assert snap.loc["C1", "mean_days_to_resolve"] == pytest.approx(3.0)
    assert snap.loc["C2", "complaints_unresolved"] == 1
    assert snap.loc["C2", "complaints_total"] == 1
