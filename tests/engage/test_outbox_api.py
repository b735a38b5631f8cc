"""The dead-letter view of the API: counts, failed and dead messages, and requeueing one."""

from __future__ import annotations

from fastapi.testclient import TestClient

from retain.app.auth.service import create_api_key
from retain.app.db import make_engine, make_sessionmaker
from retain.app.main import create_app
from retain.config import Settings
from retain.engage import outbox


def test_outbox_status_and_requeue(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
    )
    app = create_app(settings, migrate=True)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as session:
        keys = {
            role: create_api_key(session, name=role, role=role, created_by="t")[1]
            for role in ("admin", "analyst", "agent")
        }
        for i in range(3):
            outbox.enqueue(
                session,
                customer_id=f"C{i}",
                channel="webhook",
                recipient="https://hooks.example.com/x",
                payload={},
                idempotency_key=f"k{i}",
                playbook="sync",
            )
        session.commit()
        claim = outbox.claim(session, limit=3, lease_seconds=60)
        a, b, c = claim.messages
        outbox.mark_sent(session, a, claim.token)
        outbox.mark_failed(session, b, claim.token, error="HTTP 410")
        outbox.mark_failed(session, c, claim.token, error="HTTP 503", dead=True)
    with TestClient(app) as client:
        assert client.get("/api/v1/engage/outbox").status_code == 401
        agent = {"X-API-Key": keys["agent"]}
        assert client.get("/api/v1/engage/outbox", headers=agent).status_code == 403
        analyst = {"X-API-Key": keys["analyst"]}
        body = client.get("/api/v1/engage/outbox", headers=analyst).json()
        assert body["counts"] == {
            "queued": 0,
            "sending": 0,
            "sent": 1,
            "failed": 1,
            "dead": 1,
            "cancelled": 0,
        }
        assert [(p["state"], p["last_error"]) for p in body["problems"]] == [
            ("dead", "HTTP 503"),
            ("failed", "HTTP 410"),
        ]
        assert "recipient" not in body["problems"][0]
        url = f"/api/v1/engage/outbox/{c.message_id}/retry"
        assert client.post(url, headers=analyst).status_code == 403
        admin = {"X-API-Key": keys["admin"]}
        assert client.post(url, headers=admin).json() == {
            "message_id": c.message_id,
            "state": "queued",
        }
        assert client.post(url, headers=admin).status_code == 404  # queued, not dead any more
        sent = f"/api/v1/engage/outbox/{a.message_id}/retry"
        assert client.post(sent, headers=admin).status_code == 404  # a sent message stays sent
        audit = client.get("/api/v1/audit", headers=admin).json()["data"]
        assert audit[0]["action"] == "engage.requeue"
    with sessions() as session:
        assert outbox.counts(session)["queued"] == 1
        (row,) = outbox.claim(session, limit=5, lease_seconds=60).messages
        assert row.message_id == c.message_id and row.attempts == 1


def test_job_runs_are_shown(tmp_path):
    import datetime as dt

    from retain.engage._tables import JobRun

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
    )
    app = create_app(settings, migrate=True)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    at = dt.datetime(2026, 12, 6, 6, 0)
    with sessions() as session:
        key = create_api_key(session, name="a", role="analyst", created_by="t")[1]
        for attempt, state in ((1, "failed"), (2, "succeeded")):
            session.add(
                JobRun(
                    job="nightly",
                    slot=at,
                    attempt=attempt,
                    state=state,
                    worker="w1",
                    started_at=at,
                    lease_expires_at=at,
                    detail="exit 1: boom" if state == "failed" else "exit 0",
                )
            )
        session.commit()
    with TestClient(app) as client:
        data = client.get("/api/v1/engage/jobs", headers={"X-API-Key": key}).json()["data"]
    assert [(r["attempt"], r["state"], r["detail"]) for r in data] == [
        (2, "succeeded", "exit 0"),
        (1, "failed", "exit 1: boom"),
    ]
    assert data[0]["slot"].startswith("2026-12-06T06:00")


def test_outbox_api_lists_cancelled_messages_and_discards_dead_letters(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
    )
    app = create_app(settings, migrate=True)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as session:
        admin = create_api_key(session, name="a", role="admin", created_by="t")[1]
        analyst = create_api_key(session, name="n", role="analyst", created_by="t")[1]
        for key, playbook in (("gone", "winback-60"), ("dead", "sync"), ("off", "winback-60")):
            outbox.enqueue(
                session,
                customer_id="C1",
                channel="webhook",
                recipient="https://hooks.example.com/x",
                payload={},
                idempotency_key=key,
                playbook=playbook,
            )
        session.commit()
        assert outbox.cancel(session, playbook="winback-60", reason="playbook_disabled") == 2
        session.commit()
        claim = outbox.claim(session, limit=5, lease_seconds=60)
        (dead,) = claim.messages
        outbox.mark_failed(session, dead, claim.token, error="HTTP 503", dead=True)
    with TestClient(app) as client:
        reader = {"X-API-Key": analyst}
        body = client.get("/api/v1/engage/outbox", headers=reader).json()
        assert body["counts"]["cancelled"] == 2 and body["counts"]["failed"] == 0
        assert body["total"] == 1 and body["problems"][0]["state"] == "dead"
        cancelled = client.get("/api/v1/engage/outbox?state=cancelled", headers=reader).json()
        assert cancelled["total"] == 2
        assert {p["cancel_reason"] for p in cancelled["problems"]} == {"playbook_disabled"}
        assert client.get("/api/v1/engage/outbox?state=nope", headers=reader).status_code == 422
        url = f"/api/v1/engage/outbox/{dead.message_id}/discard"
        assert client.post(url, headers=reader).status_code == 403
        done = client.post(url, headers={"X-API-Key": admin})
        assert done.json() == {"message_id": dead.message_id, "state": "dead"}
        assert client.post(url, headers={"X-API-Key": admin}).status_code == 404
        body = client.get("/api/v1/engage/outbox", headers=reader).json()
        assert body["total"] == 0
        kept = client.get("/api/v1/engage/outbox?discarded=true", headers=reader).json()
        assert kept["problems"][0]["discarded_at"] is not None
