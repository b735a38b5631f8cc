"""The outbox: queued in the caller's transaction, idempotent, claimed by one worker at a time."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from _delivery import app_db, sessions_for
from sqlalchemy import select

from retain.appdb import utcnow
from retain.engage import outbox
from retain.engage._tables import DeliveryAttempt, OutboxMessage
from retain.errors import InvalidParameterError

__all__ = ["app_db"]


def _queue(session, key: str, **kw) -> OutboxMessage:
    values = dict(
        customer_id="C1",
        channel="email",
        recipient="c1@example.com",
        payload={"subject": "Hi", "body": "Hello"},
        idempotency_key=key,
    )
    values.update(kw)
    return outbox.enqueue(session, **values)


def test_enqueue_commits_with_the_callers_transaction(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        _queue(session, "k-rolled-back")
        session.rollback()
        _queue(session, "k-committed", payload={"subject": "Ünïcode 件名", "body": "b"})
        session.commit()
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert [r.idempotency_key for r in rows] == ["k-committed"]
    assert rows[0].state == "queued" and rows[0].attempts == 0
    assert json.loads(rows[0].payload)["subject"] == "Ünïcode 件名"
    assert rows[0].message_id == outbox.message_id_for("k-committed")


def test_enqueue_is_idempotent_on_its_key(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        first = _queue(session, "same")
        session.commit()
    with sessions() as session:
        again = _queue(session, "same", recipient="other@example.com")
        session.commit()
        assert again.id == first.id and again.recipient == "c1@example.com"
        assert outbox.counts(session)["queued"] == 1


def test_enqueue_rejects_an_unknown_channel_and_an_empty_key(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        with pytest.raises(InvalidParameterError, match="fax"):
            _queue(session, "k", channel="fax")
        with pytest.raises(InvalidParameterError):
            _queue(session, "")


def test_claim_takes_due_rows_once_and_never_a_sent_one(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        for i in range(5):
            _queue(session, f"k{i}")
        _queue(session, "later", not_before=utcnow() + dt.timedelta(hours=1))
        session.commit()
    with sessions() as a, sessions() as b:
        first = outbox.claim(a, limit=3, lease_seconds=60)
        second = outbox.claim(b, limit=10, lease_seconds=60)
        assert len(first.messages) == 3 and len(second.messages) == 2
        assert {m.id for m in first.messages}.isdisjoint({m.id for m in second.messages})
        assert all(m.attempts == 1 and m.state == "sending" for m in first.messages)
        for m in first.messages:
            assert outbox.mark_sent(a, m, first.token)
        assert outbox.claim(a, limit=10, lease_seconds=60).messages == []
        counts = outbox.counts(a)
    assert counts == {"queued": 1, "sending": 2, "sent": 3, "failed": 0, "dead": 0, "cancelled": 0}


def test_an_expired_lease_is_taken_over_and_the_old_claim_cannot_mark(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        _queue(session, "k")
        session.commit()
    with sessions() as a, sessions() as b:
        old = outbox.claim(a, limit=1, lease_seconds=0.01)
        assert len(old.messages) == 1
        threading.Event().wait(0.05)
        new = outbox.claim(b, limit=1, lease_seconds=60)
        assert [m.id for m in new.messages] == [old.messages[0].id]
        assert new.messages[0].attempts == 2
        assert not outbox.mark_sent(a, old.messages[0], old.token)  # the crashed worker's token
        assert outbox.mark_sent(b, new.messages[0], new.token)
        attempts = a.scalars(select(DeliveryAttempt)).all()
    assert [(x.attempt, x.outcome) for x in attempts] == [(2, "sent")]


def test_retry_waits_until_its_time_and_failures_are_final(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        _queue(session, "retry")
        _queue(session, "fail")
        _queue(session, "dead")
        session.commit()
        claim = outbox.claim(session, limit=3, lease_seconds=60)
        retry, fail, dead = claim.messages
        later = utcnow() + dt.timedelta(hours=1)
        assert outbox.mark_retry(session, retry, claim.token, error="451", at=later)
        assert outbox.mark_failed(session, fail, claim.token, error="550")
        assert outbox.mark_failed(session, dead, claim.token, error="timeout", dead=True)
        assert outbox.claim(session, limit=3, lease_seconds=60).messages == []
        assert outbox.counts(session) == {
            "queued": 1,
            "sending": 0,
            "sent": 0,
            "failed": 1,
            "dead": 1,
            "cancelled": 0,
        }


def test_claim_filters_channels(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        _queue(session, "mail")
        _queue(session, "hook", channel="webhook", recipient="https://example.com/h")
        session.commit()
        claim = outbox.claim(session, limit=5, lease_seconds=60, channels=["webhook"])
        assert [m.idempotency_key for m in claim.messages] == ["hook"]


def test_renew_keeps_only_rows_still_held(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        _queue(session, "a")
        _queue(session, "b")
        session.commit()
    with sessions() as a, sessions() as b:
        mine = outbox.claim(a, limit=2, lease_seconds=0.01)
        threading.Event().wait(0.05)
        theirs = outbox.claim(b, limit=1, lease_seconds=60)
        held = outbox.renew(a, mine.token, lease_seconds=60)
        assert held == {m.id for m in mine.messages} - {theirs.messages[0].id}


def test_insert_ignoring_tells_who_won(app_db):
    """PostgreSQL reports no row count for INSERT ... ON CONFLICT through SQLAlchemy (-1)."""
    from retain.engage._tables import Suppression

    sessions = sessions_for(app_db)
    row = {"address": "a@example.com", "reason": "manual", "created_at": utcnow()}
    with sessions() as session:
        assert outbox.insert_ignoring(session, Suppression.__table__, row) is True
        assert outbox.insert_ignoring(session, Suppression.__table__, row) is False
        session.commit()


def test_cancel_withdraws_only_waiting_messages_with_a_known_reason(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        _queue(session, "a1", customer_id="A", playbook="winback-60")
        _queue(session, "a2", customer_id="A", playbook="renewal")
        _queue(session, "b1", customer_id="B", playbook="winback-60")
        _queue(session, "b2", customer_id="B", playbook="renewal")
        session.commit()
        held = outbox.claim(session, limit=1, lease_seconds=60)  # a1 is being sent
        assert [m.idempotency_key for m in held.messages] == ["a1"]
        with pytest.raises(InvalidParameterError, match="consent_revoked"):
            outbox.cancel(session, customer_id="A", reason="bored")
        with pytest.raises(InvalidParameterError):
            outbox.cancel(session, reason="customer_left")  # no selector: never everything
        assert outbox.cancel(session, keys=[], reason="preempted") == 0
        assert outbox.cancel(session, customer_id="A", reason="customer_left") == 1
        assert outbox.cancel(session, playbook="winback-60", reason="playbook_disabled") == 1
        session.commit()
        rows = {
            r.idempotency_key: (r.state, r.cancel_reason)
            for r in session.scalars(select(OutboxMessage))
        }
    assert rows == {
        "a1": ("sending", None),  # a worker holds it: it is delivered
        "a2": ("cancelled", "customer_left"),
        "b1": ("cancelled", "playbook_disabled"),
        "b2": ("queued", None),
    }
    with sessions() as session:
        counts = outbox.counts(session)
        assert (counts["cancelled"], counts["failed"], counts["dead"]) == (2, 0, 0)
        assert outbox.problems(session) == []  # not a dead letter
        assert outbox.problem_count(session, states=("cancelled",)) == 2
        # a cancelled message is not requeued or discarded like a failure
        b1 = outbox.message_id_for("b1")
        assert not outbox.requeue(session, b1) and not outbox.discard(session, b1)


def test_requeue_and_discard_of_dead_letters(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        _queue(session, "d1")
        _queue(session, "d2")
        session.commit()
        claim = outbox.claim(session, limit=2, lease_seconds=60)
        for m in claim.messages:
            outbox.mark_failed(session, m, claim.token, error="HTTP 503", dead=True)
        d1, d2 = (outbox.message_id_for(k) for k in ("d1", "d2"))
        assert outbox.discard(session, d1) and not outbox.discard(session, d1)
        session.commit()
        assert [m.message_id for m in outbox.problems(session)] == [d2]
        assert outbox.problem_count(session, discarded=True) == 2
        assert outbox.requeue(session, d1)  # a discarded dead letter may still be retried
        session.commit()
        session.expire_all()
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == d1)).one()
        assert (row.state, row.attempts, row.discarded_at, row.claim_token) == (
            "queued",
            0,
            None,
            None,
        )
