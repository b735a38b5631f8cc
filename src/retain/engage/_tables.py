"""The outbox's tables in the app database: messages, suppressions, delivery attempts, keys.

They derive from :class:`retain.appdb.Base`, so the app's Alembic migrations create them
(revisions ``0004_engage_outbox``, ``0007_engage_outbox_states`` and
``0010_engage_outbox_recipient``) and
``tests/app/test_db.py`` checks the migrations match.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import Boolean, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import text

from retain.appdb import Base, utcnow

__all__ = [
    "CANCEL_REASONS",
    "CHANNELS",
    "STATES",
    "DeliveryAttempt",
    "EngageKey",
    "JobRun",
    "OutboxMessage",
    "Suppression",
]

#: A message's life: queued -> sending (claimed by a worker) -> sent, or back to queued for a
#: retry, or failed (permanent: a 5xx, a bad address) or dead (tries exhausted), or cancelled
#: (withdrawn before it was sent, for a reason of :data:`CANCEL_REASONS`: not a failure).
STATES: Final = ("queued", "sending", "sent", "failed", "dead", "cancelled")
CHANNELS: Final = ("email", "webhook", "sms")
#: Why a message was withdrawn before sending (``OutboxMessage.cancel_reason``).
CANCEL_REASONS: Final = (
    "preempted",  # a higher-priority playbook took the cap's last slot
    "suppressed",  # the address or number is on the suppression list
    "consent_revoked",  # the customer withdrew consent for the channel
    "playbook_disabled",  # its playbook was switched off or removed
    "customer_left",  # the customer is gone (erased, account closed)
)


class OutboxMessage(Base):
    """One message to deliver, written in the same transaction as the decision to send it."""

    __tablename__ = "engage_outbox"
    __table_args__ = (
        Index("ix_engage_outbox_due", "state", "next_attempt_at"),
        # the messages to one address or number (a suppression cancels them, a reply finds its
        # message): looked up as lower(recipient) IN (forms), see retain.engage.suppression
        Index("ix_engage_outbox_recipient", func.lower(text("recipient")), "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    #: An e-mail address as given (trimmed), an SMS number in E.164 where it could be read
    #: (:func:`retain.engage.phone.e164`), a webhook URL.
    recipient: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="en")
    advertising: Mapped[bool] = mapped_column(Boolean, default=True)
    playbook: Mapped[str | None] = mapped_column(String(200), default=None)
    campaign_id: Mapped[str | None] = mapped_column(String(200), default=None)
    state: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: One of CANCEL_REASONS when ``state`` is ``cancelled``.
    cancel_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    #: Set when an admin discarded a failed or dead message: it leaves the dead-letter queue.
    discarded_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: What a message cost to send where the channel counts it (SMS: segments).
    segments: Mapped[int | None] = mapped_column(default=None)


class Suppression(Base):
    """An e-mail address (lower case) that gets nothing more: unsubscribed, bounced, complained."""

    __tablename__ = "engage_suppressions"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(200), default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeliveryAttempt(Base):
    """One try to deliver a message and its outcome; ``logged`` once appended to interactions."""

    __tablename__ = "engage_delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    campaign_id: Mapped[str | None] = mapped_column(String(200), default=None)
    attempt: Mapped[int] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    logged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class EngageKey(Base):
    """A secret engage generates once and keeps (the unsubscribe-link signing key)."""

    __tablename__ = "engage_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """One try of a scheduled job for one slot; the unique key makes one worker its owner."""

    __tablename__ = "engage_job_runs"
    __table_args__ = (
        UniqueConstraint("job", "slot", "attempt", name="uq_engage_job_runs_job_slot_attempt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100), index=True)
    slot: Mapped[dt.datetime] = mapped_column()
    attempt: Mapped[int] = mapped_column()
    state: Mapped[str] = mapped_column(String(12), default="running")
    worker: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_expires_at: Mapped[dt.datetime] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    retry_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)
