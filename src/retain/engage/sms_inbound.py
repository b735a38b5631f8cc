"""Replies to our SMS, as the gateway forwards them: opt-out keywords and other answers.

A reply whose text is an opt-out keyword (STOP, UNSUBSCRIBE, 停止, 配信停止, 거부, 수신거부, ...)
puts the number on the suppression list (reason ``unsubscribe``), which cancels the SMS still
queued to it in the same transaction (:mod:`retain.engage.suppression`). The text is read
after Unicode NFKC (full-width ``ＳＴＯＰ`` and half-width ``ｽﾄｯﾌﾟ`` are ``STOP`` and
``ストップ``), case-folded, without spaces or punctuation around it: the whole reply may be the
keyword ("Stop.", "수신 거부") or, for the unambiguous ones, start with it ("STOP please",
"配信停止してください").
Being lenient errs on the side of the customer: a reply that merely mentions "stop" later on
is not an opt-out, one that begins with it is.

Any other reply from a number we sent to is kept as an attempt row of that message with the
outcome ``replied``; the worker appends it to ``interactions`` as ``message_replied`` on channel
``sms`` (the kind :data:`retain.engage.channels.ENGAGED_KINDS` already counts, so a customer
who answers SMS makes it their most active channel). A reply from a number we never texted is
ignored. Receiving the same reply twice (the gateway retrying) records it once.

The gateway reports the sender in E.164 (``+819012345678``) while the customer may be stored in
national form (``090-1234-5678``): numbers are compared in every form they may be stored under
(:func:`retain.engage.suppression.forms`), through the outbox's recipient index.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.engage import suppression
from retain.engage._tables import DeliveryAttempt, OutboxMessage
from retain.engage.phone import phone_key
from retain.i18n import t

__all__ = ["OPT_OUT_KEYWORDS", "Inbound", "is_opt_out", "normal_reply", "receive"]

#: Opt-out words in their normal form (NFKC, case-folded, no spaces). English: the CTIA
#: short-code keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) and common variants;
#: Japanese: 停止, 配信停止, 配信解除, 解除, 受信拒否, ストップ; Korean: the opt-out words of
#: the Information and Communications Network Act's 080 lines (거부, 수신거부, 수신중지, 중지,
#: 해지, 그만).
OPT_OUT_KEYWORDS: frozenset[str] = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "revoke",
        "停止",
        "配信停止",
        "配信解除",
        "解除",
        "受信拒否",
        "ストップ",
        "거부",
        "수신거부",
        "수신중지",
        "중지",
        "해지",
        "그만",
    }
)
#: Words that opt out as the first word of a longer reply ("STOP please"); "end" or "cancel"
#: start ordinary sentences too, so they opt out only as the whole reply.
_FIRST_WORDS = frozenset({"stop", "stopall", "unsubscribe", "optout"})
#: Japanese and Korean run words together ("配信停止してください", "수신거부합니다"): these opt out
#: at the start of the reply; "그만" and "解除" start ordinary sentences, so only whole.
_PREFIXES = frozenset(
    {
        "停止",
        "配信停止",
        "配信解除",
        "受信拒否",
        "ストップ",
        "거부",
        "수신거부",
        "수신중지",
        "중지",
        "해지",
    }
)
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def normal_reply(text: str) -> str:
    """``text`` in NFKC, case-folded, without the punctuation and spaces around it."""
    return _EDGES.sub("", unicodedata.normalize("NFKC", text).casefold().strip())


def is_opt_out(text: str) -> bool:
    """Whether a reply asks to receive no more SMS (see the module docstring for the rule)."""
    words = normal_reply(text).split()
    if not words:
        return False
    whole = "".join(words)
    if whole in OPT_OUT_KEYWORDS:
        return True
    if _EDGES.sub("", words[0]) in _FIRST_WORDS:
        return True
    return any(whole.startswith(k) for k in _PREFIXES)


@dataclass(frozen=True)
class Inbound:
    """What one reply did."""

    action: Literal["opted_out", "reply_recorded", "ignored"]
    customer_id: str | None = None
    already: bool = False  # opted out before, or this reply was recorded before
    cancelled: int = 0  # queued SMS cancelled by this opt-out


def _last_message_to(session: Session, number: str) -> OutboxMessage | None:
    """The latest SMS we queued to ``number`` (a normal key), in any of its stored forms.

    ``lower(recipient) IN (forms)`` is answered by the outbox's recipient index: the E.164
    form the gateway reports finds a row written in national form, and the reverse.
    """
    found: OutboxMessage | None = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == "sms",
            func.lower(OutboxMessage.recipient).in_(sorted(suppression.forms(number))),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    return found


def receive(session: Session, *, number: str, text: str, inbound_id: str = "") -> Inbound:
    """Act on one reply from ``number`` (caller commits); idempotent.

    ``inbound_id`` is the gateway's id of the reply (Twilio's ``MessageSid``), so a retried
    delivery of the same reply is recognised; without one, the same text to the same message
    counts once.
    """
    phone = phone_key(number)
    if phone is None:
        return Inbound("ignored")
    last = _last_message_to(session, phone)
    customer_id = last.customer_id if last is not None else None
    if last is not None and not phone.startswith("+"):
        # a national number from the gateway: the message we sent knows its country
        phone = phone_key(last.recipient) or phone
    if is_opt_out(text):
        cancelled = suppression.cancel_queued_to(session, phone)
        added = suppression.suppress(
            session,
            phone,
            "unsubscribe",
            customer_id=customer_id,
            detail=t("engage_outbox.sms_inbound_stop"),
        )
        return Inbound("opted_out", customer_id, already=not added, cancelled=cancelled)
    if last is None:
        return Inbound("ignored")
    detail = json.dumps({"inbound_id": inbound_id, "text": text}, ensure_ascii=False)
    seen = session.scalar(
        select(DeliveryAttempt.id).where(
            DeliveryAttempt.message_id == last.message_id,
            DeliveryAttempt.outcome == "replied",
            DeliveryAttempt.detail == detail,
        )
    )
    if seen is None:
        session.add(
            DeliveryAttempt(
                message_id=last.message_id,
                customer_id=last.customer_id,
                channel="sms",
                campaign_id=last.campaign_id,
                attempt=last.attempts,
                outcome="replied",
                detail=detail,
                occurred_at=utcnow(),
                logged=False,
            )
        )
    return Inbound("reply_recorded", last.customer_id, already=seen is not None)
