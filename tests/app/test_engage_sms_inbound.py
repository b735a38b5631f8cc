"""POST /api/v1/engage/sms/inbound through the real app: the gateway's replies to our SMS."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pyarrow as pa
from fastapi.testclient import TestClient
from sqlalchemy import select

import retain.warehouse as wh
from retain.app.audit.models import AuditEntry
from retain.app.db import make_engine, make_sessionmaker
from retain.app.main import create_app
from retain.config import Settings
from retain.engage import outbox, suppression
from retain.engage._tables import OutboxMessage
from retain.engage.webhooks import sign
from retain.engage.worker import Worker
from retain.ingest import ingest

URL = "/api/v1/engage/sms/inbound"
SECRET = "gateway-shared-secret"
TOKEN = {"X-Retain-Token": SECRET}


def _setup(tmp_path, secret: str = SECRET):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        sms={"inbound_secret": secret},  # type: ignore[arg-type]
    )
    app = create_app(settings, migrate=True)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    return settings, TestClient(app), sessions


def _queue(sessions, key: str, number: str, customer: str = "C1") -> None:
    with sessions() as session:
        outbox.enqueue(
            session,
            customer_id=customer,
            channel="sms",
            recipient=number,
            payload={"body": "We miss you"},
            idempotency_key=key,
            playbook="winback-60",
        )
        session.commit()


def _state(sessions, key: str) -> tuple[str, str | None]:
    with sessions() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        found = row.one()
        return found.state, found.cancel_reason


def _audits(sessions) -> list[AuditEntry]:
    with sessions() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "engage.sms_opt_out"))
        )


def test_bad_or_missing_secret_is_401_and_changes_nothing(tmp_path):
    _settings, client, sessions = _setup(tmp_path)
    _queue(sessions, "k1", "+819012345678")
    body = json.dumps({"from": "+819012345678", "text": "STOP"}).encode()
    stale = int(time.time()) - 3600
    with client:
        for headers in (
            {},
            {"X-Retain-Token": "wrong"},
            {"X-Retain-Token": "\u3042".encode()},  # not ASCII: refused, not a 500
            {"X-Retain-Signature": f"t={int(time.time())},v1=00"},
            {"X-Retain-Signature": sign(SECRET, stale, body)},  # replayed an hour later
            {"X-Retain-Signature": sign("other", int(time.time()), body)},
        ):
            r = client.post(
                URL, content=body, headers={"Content-Type": "application/json", **headers}
            )
            assert r.status_code == 401, headers
            assert r.json()["error"]["code"] == "auth.required"
    assert _state(sessions, "k1") == ("queued", None)
    with sessions() as session:
        assert not suppression.is_suppressed(session, "+819012345678")


def test_without_a_configured_secret_every_reply_is_refused(tmp_path):
    _settings, client, _sessions = _setup(tmp_path, secret="")
    with client:
        r = client.post(
            URL, json={"from": "+819012345678", "text": "STOP"}, headers={"X-Retain-Token": ""}
        )
    assert r.status_code == 401


def test_stop_suppresses_cancels_audits_once_and_a_repeat_is_harmless(tmp_path):
    _settings, client, sessions = _setup(tmp_path)
    _queue(sessions, "k1", "+82 10-1234-5678")
    _queue(sessions, "k2", "+821099990000", customer="C2")
    body = json.dumps({"from": "+821012345678", "text": "수신거부", "id": "in-1"}).encode()
    with client:
        signed = {"X-Retain-Signature": sign(SECRET, int(time.time()), body)}
        first = client.post(
            URL, content=body, headers={"Content-Type": "application/json", **signed}
        )
        assert first.status_code == 200
        assert first.json() == {"action": "opted_out", "already": False, "cancelled": 1}
        # Twilio's inbound form, full-width STOP: the same number again.
        form = urlencode({"From": "+821012345678", "Body": "ＳＴＯＰ", "MessageSid": "SM2"})
        again = client.post(
            URL,
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded", **TOKEN},
        )
        assert again.status_code == 200
        assert again.json() == {"action": "opted_out", "already": True, "cancelled": 0}
    assert _state(sessions, "k1") == ("cancelled", "suppressed")
    assert _state(sessions, "k2") == ("queued", None)
    audits = _audits(sessions)
    assert [(a.actor, a.target_id) for a in audits] == [("sms-gateway", "C1")]
    assert "821012345678" not in json.dumps(audits[0].details)  # no number in the log


def test_other_replies_are_recorded_or_ignored(tmp_path):
    settings, client, sessions = _setup(tmp_path)
    _queue(sessions, "k1", "+15550100001")
    with client:
        reply = client.post(
            URL, json={"from": "+1 555 010 0001", "text": "Thanks!", "id": "a"}, headers=TOKEN
        )
        repeat = client.post(
            URL, json={"from": "+15550100001", "text": "Thanks!", "id": "a"}, headers=TOKEN
        )
        stranger = client.post(
            URL, json={"from": "+15550109999", "text": "who is this?"}, headers=TOKEN
        )
        missing = client.post(URL, json={"text": "STOP"}, headers=TOKEN)
        garbage = client.post(
            URL, content=b"\xff", headers={"Content-Type": "application/json", **TOKEN}
        )
    assert reply.status_code == 200 and reply.json()["action"] == "reply_recorded"
    assert repeat.json() == {"action": "reply_recorded", "already": True, "cancelled": 0}
    assert stranger.status_code == 204 and stranger.content == b""
    assert missing.status_code == 422 and garbage.status_code == 422
    assert _state(sessions, "k1") == ("queued", None) and _audits(sessions) == []
    # The worker appends the reply to interactions as message_replied on channel sms.
    ingest("customers", pa.table({"customer_id": ["C1"]}), settings=settings)
    assert Worker(settings, sessions).flush_interactions() == 1
    con = wh.connect(settings.warehouse_url)
    try:
        rows = con.table("interactions").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    assert [(r["customer_id"], r["kind"], r["channel"]) for r in rows] == [
        ("C1", "message_replied", "sms")
    ]
    assert json.loads(rows[0]["properties"])["outcome"] == "replied"
