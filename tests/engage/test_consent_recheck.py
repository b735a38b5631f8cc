"""Consent and opt-outs that change between the decision and the send (#19 "every guardrail").

A message decided in the evening may wait for quiet hours until morning. If meanwhile the
customer withdrew consent (a new ingest of ``customers``), unsubscribed or was suppressed, it
must not go out. Real components: a SQLite or PostgreSQL app database, a DuckDB warehouse, a
loopback SMTP server (aiosmtpd) and the app's own unsubscribe endpoint.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from _delivery import app_db, engage_settings, sessions_for, smtp_server
from fastapi.testclient import TestClient
from sqlalchemy import select, update

import retain.warehouse as wh
from retain.app.main import create_app
from retain.appdb import utcnow
from retain.engage import outbox, suppression
from retain.engage._tables import DeliveryAttempt, OutboxMessage
from retain.engage.worker import Worker
from retain.ingest import ingest

__all__ = ["app_db"]


def _customers(settings, rows: list[dict]) -> None:
    ingest("customers", pa.Table.from_pylist(rows), settings=settings)


def _person(cid: str, *, email_ok: bool = True, email: str | None = None) -> dict:
    return {
        "customer_id": cid,
        "email": email or f"{cid.lower()}@example.com",
        "email_opt_in": email_ok,
        "phone": "+81 90-1234-" + cid[-1].rjust(4, "0"),
        "sms_opt_in": True,
    }


def _queue(
    sessions, cid: str, *, channel: str = "email", recipient: str | None = None, n: int = 0
) -> str:
    key = f"winback-60:{cid}:{channel}:{n}"
    with sessions() as session:
        outbox.enqueue(
            session,
            customer_id=cid,
            channel=channel,
            recipient=recipient or f"{cid.lower()}@example.com",
            payload={"subject": "We miss you", "body": "Come back"},
            idempotency_key=key,
            playbook="winback-60",
        )
        session.commit()
    return key


def _age(sessions, hours: float, key: str | None = None) -> None:
    """Make queued messages (or the one of ``key``) look decided ``hours`` ago."""
    with sessions() as session:
        stmt = update(OutboxMessage).values(created_at=utcnow() - dt.timedelta(hours=hours))
        if key is not None:
            stmt = stmt.where(OutboxMessage.idempotency_key == key)
        session.execute(stmt)
        session.commit()


def _states(sessions) -> dict[str, tuple[str, str | None]]:
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        return {r.customer_id: (r.state, r.cancel_reason) for r in rows}


def test_consent_withdrawn_while_waiting_cancels_instead_of_sending(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with smtp_server() as (handler, port):
        settings = engage_settings(tmp_path, app_db, port)
        _customers(settings, [_person(c) for c in ("C1", "C2", "C3")])
        for cid in ("C1", "C2", "C3", "C9"):  # C9: never (or no longer) a customer
            _queue(sessions, cid)
        _age(sessions, 12)  # decided at 21:00, due at 09:00
        # The morning ingest: C2 withdrew e-mail consent, C3 changed address.
        _customers(
            settings,
            [_person("C2", email_ok=False), _person("C3", email="new-c3@example.com")],
        )
        report = Worker(settings, sessions).drain()
        delivered = sorted(str(m["To"]) for m in handler.messages)
    assert delivered == ["c1@example.com"]
    assert (report.sent, report.cancelled, report.failed) == (1, 3, 0)
    assert _states(sessions) == {
        "C1": ("sent", None),
        "C2": ("cancelled", "consent_revoked"),
        "C3": ("cancelled", "consent_revoked"),
        "C9": ("cancelled", "customer_left"),
    }
    with sessions() as session:  # each cancellation is an attempt, logged to interactions
        outcomes = sorted(a.outcome for a in session.scalars(select(DeliveryAttempt)))
    assert outcomes == ["cancelled", "cancelled", "cancelled", "sent"]


def test_a_fresh_message_relies_on_the_decisions_read_of_consent(app_db, tmp_path):
    """The rule: only messages queued longer than engage.consent_recheck_minutes are re-read."""
    sessions = sessions_for(app_db)
    with smtp_server() as (handler, port):
        settings = engage_settings(tmp_path, app_db, port, consent_recheck_minutes=30)
        _customers(settings, [_person("C1", email_ok=False)])
        fresh = _queue(sessions, "C1", n=1)
        waited = _queue(sessions, "C1", n=2)
        _age(sessions, 0.25, fresh)  # 15 minutes: the decision's own read of consent stands
        _age(sessions, 0.75, waited)  # 45 minutes: read again, and withdrawn
        report = Worker(settings, sessions).drain()
    assert (report.sent, report.cancelled) == (1, 1) and len(handler.messages) == 1
    with sessions() as session:
        rows = {r.idempotency_key: r for r in session.scalars(select(OutboxMessage))}
    assert rows[fresh].state == "sent"
    assert (rows[waited].state, rows[waited].cancel_reason) == ("cancelled", "consent_revoked")


def test_an_unreadable_warehouse_makes_old_messages_wait_not_go_out(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with smtp_server() as (handler, port):
        settings = engage_settings(
            tmp_path,
            app_db,
            port,
            consent_recheck_minutes=0,
            backoff_seconds=60,
            backoff_max_seconds=120,
        )
        settings.warehouse_url = "unknown-scheme://nowhere"
        _queue(sessions, "C1")
        report = Worker(settings, sessions, log_interactions=False).drain()
    assert handler.messages == [] and report.retried == 1 and report.sent == 0
    with sessions() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert row.state == "queued" and "nowhere" in (row.last_error or "")


def test_one_click_unsubscribe_cancels_queued_mail_at_once(app_db, tmp_path):
    app_url = app_db
    sessions = sessions_for(app_url)
    with smtp_server() as (handler, port):
        settings = engage_settings(tmp_path, app_url, port)
        _queue(sessions, "C1", recipient="Alice@Example.com")
        _queue(sessions, "C2")
        with sessions() as session:
            token = suppression.make_token(
                suppression.signing_key(session), "alice@example.com", "C1"
            )
        with TestClient(create_app(settings, migrate=True)) as client:
            done = client.post(
                f"/unsubscribe/{token}",
                content="List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert done.status_code == 200
        # Cancelled when recorded: no worker had to look at it yet.
        assert _states(sessions)["C1"] == ("cancelled", "suppressed")
        report = Worker(settings, sessions, log_interactions=False).drain()
    assert [str(m["To"]) for m in handler.messages] == ["c2@example.com"]
    assert report.sent == 1


def test_suppressing_a_number_cancels_its_queued_sms_whatever_the_format(app_db):
    sessions = sessions_for(app_db)
    _queue(sessions, "C1", channel="sms", recipient="+81 (90) 1234-5678")
    _queue(sessions, "C2", channel="sms", recipient="+819099995678")  # same last digits
    _queue(sessions, "C3", recipient="c3@example.com")
    with sessions() as session:
        assert suppression.suppress(session, "+81-90-1234-5678", "unsubscribe")
        session.commit()
    assert _states(sessions) == {
        "C1": ("cancelled", "suppressed"),
        "C2": ("queued", None),
        "C3": ("queued", None),
    }
    with sessions() as session:  # the number is kept in one form; a repeat changes nothing
        assert suppression.is_suppressed(session, "+819012345678")
        assert not suppression.suppress(session, "+81 90 1234 5678", "unsubscribe")
        assert suppression.suppress(session, "C3@Example.com", "complaint")
        session.commit()
    assert _states(sessions)["C3"] == ("cancelled", "suppressed")


def test_without_a_customers_table_there_is_nothing_to_recheck(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with smtp_server() as (handler, port):
        settings = engage_settings(tmp_path, app_db, port, consent_recheck_minutes=0)
        _queue(sessions, "C1")  # no warehouse file at all
        first = Worker(settings, sessions, log_interactions=False).drain()
        con = wh.connect(settings.warehouse_url)
        wh.create_tables(con, ["events"])
        con.disconnect()
        _queue(sessions, "C1", n=1)  # a warehouse, but no customers table
        second = Worker(settings, sessions, log_interactions=False).drain()
    assert (first.sent, second.sent) == (1, 1) and len(handler.messages) == 2
