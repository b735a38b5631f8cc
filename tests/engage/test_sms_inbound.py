"""Opt-out keywords in SMS replies: en/ja/ko, any case or width, and what is not one."""

from __future__ import annotations

import pytest
from _delivery import app_db, sessions_for
from sqlalchemy import select

from retain.engage import outbox, suppression
from retain.engage._tables import DeliveryAttempt, OutboxMessage
from retain.engage.sms_inbound import is_opt_out, receive

__all__ = ["app_db"]


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop. ",
        "ＳＴＯＰ",  # full width
        "STOP please",
        "Unsubscribe",
        "STOP ALL",
        "opt out",
        "停止",
        "配信停止",
        "配信停止してください",
        "ｽﾄｯﾌﾟ",  # half-width katakana: NFKC makes it ストップ
        "受信拒否。",
        "거부",
        "수신거부",
        "수신 거부",
        "수신거부합니다",
        "그만",
    ],
)
def test_opt_out_keywords(text):
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Thanks!",
        "Can you stop by tomorrow?",
        "end of month is fine",
        "cancel my order?",
        "ありがとう",
        "그만큼 좋아요",
        "解除方法を教えて",
        "stopping by later",
    ],
)
def test_other_replies_are_not_opt_outs(text):
    assert not is_opt_out(text)


def test_receive_stop_suppresses_and_cancels_and_a_repeat_changes_nothing(app_db):
    sessions = sessions_for(app_db)
    with sessions() as session:
        for i, number in enumerate(["+81 90-1234-5678", "+819012345678", "+15550100001"]):
            outbox.enqueue(
                session,
                customer_id="C1" if i < 2 else "C2",
                channel="sms",
                recipient=number,
                payload={"body": "hi"},
                idempotency_key=f"k{i}",
            )
        session.commit()
        first = receive(session, number="+81-90-1234-5678", text="配信停止", inbound_id="m1")
        session.commit()
        again = receive(session, number="+819012345678", text="STOP", inbound_id="m2")
        session.commit()
        assert (first.action, first.already, first.cancelled, first.customer_id) == (
            "opted_out",
            False,
            2,
            "C1",
        )
        assert (again.action, again.already, again.cancelled) == ("opted_out", True, 0)
        assert suppression.is_suppressed(session, "+819012345678")
        rows = session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.state)).all()
        states = {k: s for k, s in rows}
        assert states == {"k0": "cancelled", "k1": "cancelled", "k2": "queued"}
        # A reply that is no keyword, from a number we texted: recorded once per gateway id.
        for _ in range(2):
            reply = receive(session, number="+1 555 010 0001", text="Thanks!", inbound_id="m3")
            session.commit()
        assert (reply.action, reply.already, reply.customer_id) == ("reply_recorded", True, "C2")
        attempts = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        assert [(a.customer_id, a.outcome, a.channel) for a in attempts] == [
            ("C1", "cancelled", "sms"),  # the opt-out's cancellations, for interactions
            ("C1", "cancelled", "sms"),
            ("C2", "replied", "sms"),
        ]
        # A stranger's reply is ignored; a stranger's STOP is still honoured.
        assert receive(session, number="+15550109999", text="hello").action == "ignored"
        assert receive(session, number="not a number", text="STOP").action == "ignored"
        stranger = receive(session, number="+15550109999", text="stop")
        session.commit()
        assert (stranger.action, stranger.customer_id) == ("opted_out", None)
