"""The outbox: a message is queued in the decision's transaction and claimed safely for delivery.

The playbooks call::

    enqueue(
        session,                   # the caller's SQLAlchemy Session (its transaction)
        *,
        customer_id: str,
        channel: "email" | "webhook" | "sms",
        recipient: str,            # an e-mail address, the webhook's URL, or a phone number
        payload: Mapping[str, Any],  # e-mail: {"subject", "body"[, "html"]}; SMS: {"body"};
                                     # webhook: any JSON
        idempotency_key: str,      # e.g. "winback-60:C123:2026-12-06"; one row per key, ever
        language: str = "en",
        advertising: bool = True,  # marketing mail: "(광고)" prefix in Korean, opt-out footer
        playbook: str | None = None,
        campaign_id: str | None = None,
        not_before: datetime | None = None,  # naive UTC; quiet hours wait, not drop
        region: str | None = None,  # the customer's country: a national number read in it
    ) -> OutboxMessage

It only adds a row (inside a SAVEPOINT) and flushes; the caller commits, so the decision and the
row commit together or not at all. A second call with the same key returns the first row.

Workers claim due rows (:func:`claim`) under a lease with a fresh token: on PostgreSQL with
``SELECT ... FOR UPDATE SKIP LOCKED``, on SQLite with one ``UPDATE`` (SQLite has one writer at a
time). A row is marked ``sent`` only after the channel accepted it, with its token, so the
checkpoint never advances at fetch time (listmonk #3022), and a sent row is never claimed again
(listmonk #2070). A worker killed between the send and the mark leaves the row ``sending``; after
the lease another worker takes it over: at most that one in-flight message is sent twice.

A message withdrawn before it was sent (:func:`cancel`, or a suppressed address at send time)
is ``cancelled`` with a reason of :data:`~retain.engage._tables.CANCEL_REASONS`: not a failure,
so it is neither counted nor listed with the dead letters. An admin may :func:`requeue` a
``failed`` or ``dead`` message or :func:`discard` it (it stays ``failed``/``dead``, off the list).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.engage._tables import (
    CANCEL_REASONS,
    CHANNELS,
    STATES,
    DeliveryAttempt,
    OutboxMessage,
)
from retain.engage.phone import e164
from retain.engage.recipients import stored_recipient
from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = [
    "PROBLEM_STATES",
    "Claim",
    "cancel",
    "claim",
    "counts",
    "discard",
    "enqueue",
    "insert_ignoring",
    "mark_cancelled",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "message_id_for",
    "problem_count",
    "problems",
    "renew",
    "requeue",
]

#: The states of the dead-letter view: refused for good, or out of tries.
PROBLEM_STATES: tuple[str, ...] = ("failed", "dead")


def message_id_for(idempotency_key: str) -> str:
    """The stable message id of a key (the same key always names the same message)."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def enqueue(
    session: Session,
    *,
    customer_id: str,
    channel: str,
    recipient: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
    language: str = "en",
    advertising: bool = True,
    playbook: str | None = None,
    campaign_id: str | None = None,
    not_before: dt.datetime | None = None,
    region: str | None = None,
) -> OutboxMessage:
    """Queue one message in ``session``'s transaction; idempotent on ``idempotency_key``.

    With ``region`` (the customer's country) an SMS number must read as one
    (:func:`retain.engage.phone.e164`); the payload keeps it for the worker.
    """
    if channel not in CHANNELS:
        raise InvalidParameterError(
            t("engage.bad_channel", channel=channel, allowed=", ".join(CHANNELS))
        )
    if not idempotency_key or len(idempotency_key) > 200:
        raise InvalidParameterError(t("engage.bad_key"))
    existing = session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return existing
    body = dict(payload)
    if channel == "sms" and region is not None:
        recipient = e164(recipient, region)
        body["region"] = region
    values = {
        "message_id": message_id_for(idempotency_key),
        "idempotency_key": idempotency_key,
        "customer_id": customer_id,
        "channel": channel,
        "recipient": stored_recipient(channel, recipient),
        "payload": json.dumps(body, ensure_ascii=False, sort_keys=True, default=str),
        "language": language,
        "advertising": advertising,
        "playbook": playbook,
        "campaign_id": campaign_id or playbook,
        "state": "queued",
        "attempts": 0,
        "next_attempt_at": not_before or utcnow(),
        "created_at": utcnow(),
    }
    # INSERT ... ON CONFLICT DO NOTHING: a concurrent transaction that queued the same key first
    # wins without aborting the caller's transaction (no SAVEPOINT, which pysqlite mishandles).
    insert_ignoring(session, OutboxMessage.__table__, values)
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    ).one()


def insert_ignoring(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """``INSERT`` unless a unique key already holds the row (SQLite, PostgreSQL); True if added.

    Tells by ``RETURNING`` the primary key: PostgreSQL reports no row count for this statement
    through SQLAlchemy (-1), which would make every racer believe it won.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    key = next(iter(table.primary_key.columns))
    return session.execute(stmt.returning(key)).first() is not None


@dataclass(frozen=True)
class Claim:
    """Rows one worker holds until ``lease_expires_at``, under ``token``."""

    token: str
    messages: Sequence[OutboxMessage]


def _due(now: dt.datetime) -> Any:
    return or_(
        (OutboxMessage.state == "queued") & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.state == "sending") & (OutboxMessage.lease_expires_at < now),
    )


def claim(
    session: Session,
    *,
    limit: int,
    lease_seconds: float,
    channels: Sequence[str] = CHANNELS,
) -> Claim:
    """Take up to ``limit`` due rows (queued and due, or sending with an expired lease); commits.

    Each claimed row becomes ``sending`` with this claim's token and lease and one more attempt.
    Two workers never hold the same row: PostgreSQL skips rows another transaction locked;
    SQLite serialises writers, and the ``UPDATE`` re-checks due-ness under its write lock.
    """
    now = utcnow()
    token = secrets.token_hex(16)
    lease = now + dt.timedelta(seconds=lease_seconds)
    pick = (
        select(OutboxMessage.id)
        .where(_due(now), OutboxMessage.channel.in_(list(channels)))
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(pick.with_for_update(skip_locked=True)))
        where: Any = OutboxMessage.id.in_(ids) if ids else None
    else:
        where = OutboxMessage.id.in_(pick.scalar_subquery()) & _due(now)
    if where is None:
        session.commit()
        return Claim(token, [])
    session.execute(
        update(OutboxMessage)
        .where(where)
        .values(
            state="sending",
            claim_token=token,
            lease_expires_at=lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.claim_token == token, OutboxMessage.state == "sending")
        .order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    return Claim(token, rows)


def renew(session: Session, token: str, *, lease_seconds: float) -> set[int]:
    """Extend this claim's lease; return the ids it still holds (others may have taken some)."""
    lease = utcnow() + dt.timedelta(seconds=lease_seconds)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.claim_token == token, OutboxMessage.state == "sending")
        .values(lease_expires_at=lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return set(
        session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.claim_token == token, OutboxMessage.state == "sending"
            )
        )
    )


def _finish(
    session: Session,
    message: OutboxMessage,
    token: str,
    *,
    outcome: str,
    detail: str | None,
    values: dict[str, Any],
) -> bool:
    """Move a claimed row on, only while this claim still holds it; log the attempt; commit."""
    done = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.claim_token == token,
            OutboxMessage.state == "sending",
        )
        .values(claim_token=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    held = bool(getattr(done, "rowcount", 0))
    if held:
        session.add(
            DeliveryAttempt(
                message_id=message.message_id,
                customer_id=message.customer_id,
                channel=message.channel,
                campaign_id=message.campaign_id,
                attempt=message.attempts,
                outcome=outcome,
                detail=detail,
                occurred_at=utcnow(),
                logged=False,
            )
        )
    session.commit()
    return held


def mark_sent(
    session: Session,
    message: OutboxMessage,
    token: str,
    *,
    detail: str | None = None,
    segments: int | None = None,
) -> bool:
    """The channel accepted the message: ``sent`` (False when the claim was lost meanwhile).

    ``segments``: what an SMS cost (recorded on the row); ``detail`` goes to the attempt.
    """
    now = utcnow()
    values: dict[str, Any] = {"state": "sent", "sent_at": now, "last_error": None}
    if segments is not None:
        values["segments"] = segments
    return _finish(session, message, token, outcome="sent", detail=detail, values=values)


def mark_retry(
    session: Session, message: OutboxMessage, token: str, *, error: str, at: dt.datetime
) -> bool:
    """A transient failure: back to ``queued`` until ``at``."""
    return _finish(
        session,
        message,
        token,
        outcome="retry",
        detail=error,
        values={"state": "queued", "next_attempt_at": at, "last_error": error},
    )


def mark_failed(
    session: Session, message: OutboxMessage, token: str, *, error: str, dead: bool = False
) -> bool:
    """A permanent failure (``failed``) or tries exhausted (``dead``, the dead-letter state)."""
    state = "dead" if dead else "failed"
    return _finish(
        session,
        message,
        token,
        outcome=state,
        detail=error,
        values={"state": state, "last_error": error},
    )


def _reason(reason: str) -> str:
    if reason not in CANCEL_REASONS:
        raise InvalidParameterError(
            t("engage_outbox.bad_reason", reason=reason, allowed=", ".join(CANCEL_REASONS))
        )
    return reason


def mark_cancelled(
    session: Session, message: OutboxMessage, token: str, *, reason: str, detail: str
) -> bool:
    """A claimed message withdrawn before it was sent (``cancelled``, not a failure)."""
    return _finish(
        session,
        message,
        token,
        outcome="cancelled",
        detail=detail,
        values={"state": "cancelled", "cancel_reason": _reason(reason), "last_error": detail},
    )


def cancel(
    session: Session,
    *,
    reason: str,
    keys: Sequence[str] | None = None,
    customer_id: str | None = None,
    playbook: str | None = None,
    detail: str | None = None,
) -> int:
    """Withdraw waiting messages (``queued``) by key, customer or playbook; caller commits.

    ``reason`` is one of :data:`~retain.engage._tables.CANCEL_REASONS` (consent revoked, the
    playbook disabled, the customer left, ...). Only ``queued`` rows change: one a worker holds
    right now is delivered. Each gets an attempt row (outcome ``cancelled``), appended to
    ``interactions`` as ``message_cancelled`` like a cancellation at send time. Returns how many
    were cancelled.
    """
    _reason(reason)
    where: list[Any] = [OutboxMessage.state == "queued"]
    if keys is not None:
        if not keys:
            return 0
        where.append(OutboxMessage.idempotency_key.in_(list(keys)))
    if customer_id is not None:
        where.append(OutboxMessage.customer_id == customer_id)
    if playbook is not None:
        where.append(OutboxMessage.playbook == playbook)
    if len(where) == 1:  # no selector: never cancel the whole outbox by accident
        raise InvalidParameterError(t("engage_outbox.cancel_needs_selector"))
    cancelled = session.execute(
        update(OutboxMessage)
        .where(*where)
        .values(state="cancelled", cancel_reason=reason, last_error=detail or reason)
        .returning(
            OutboxMessage.message_id,
            OutboxMessage.customer_id,
            OutboxMessage.channel,
            OutboxMessage.campaign_id,
            OutboxMessage.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    now = utcnow()
    # One attempt row each, so the worker appends a ``message_cancelled`` interaction for it.
    session.add_all(
        DeliveryAttempt(
            message_id=r.message_id,
            customer_id=r.customer_id,
            channel=r.channel,
            campaign_id=r.campaign_id,
            attempt=r.attempts,
            outcome="cancelled",
            detail=f"{reason}: {detail}" if detail else reason,
            occurred_at=now,
            logged=False,
        )
        for r in cancelled
    )
    return len(cancelled)


def counts(session: Session) -> dict[str, int]:
    """Messages per state (every state present, zero when none)."""
    found = dict(
        session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        ).all()
    )
    return {state: int(found.get(state, 0)) for state in STATES}


def requeue(session: Session, message_id: str) -> bool:
    """Give a ``failed`` or ``dead`` message a fresh set of tries, due now (caller commits).

    The row loses any old claim and lease, so the next worker to claim it takes it with a new
    token; a discarded message comes back onto the list of problems if it fails again.
    """
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.message_id == message_id, OutboxMessage.state.in_(PROBLEM_STATES))
        .values(
            state="queued",
            attempts=0,
            next_attempt_at=utcnow(),
            last_error=None,
            claim_token=None,
            lease_expires_at=None,
            discarded_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


def discard(session: Session, message_id: str) -> bool:
    """Take a ``failed`` or ``dead`` message off the dead-letter list for good (caller commits).

    It keeps its state (it did fail) and its attempts; only ``discarded_at`` is set.
    """
    done = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.message_id == message_id,
            OutboxMessage.state.in_(PROBLEM_STATES),
            OutboxMessage.discarded_at.is_(None),
        )
        .values(discarded_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


def _problem_filter(
    states: Sequence[str], channel: str | None, playbook: str | None, discarded: bool
) -> list[Any]:
    where: list[Any] = [OutboxMessage.state.in_(list(states))]
    if channel:
        where.append(OutboxMessage.channel == channel)
    if playbook:
        where.append(OutboxMessage.playbook == playbook)
    if not discarded:
        where.append(OutboxMessage.discarded_at.is_(None))
    return where


def problems(
    session: Session,
    *,
    limit: int = 100,
    offset: int = 0,
    states: Sequence[str] = PROBLEM_STATES,
    channel: str | None = None,
    playbook: str | None = None,
    discarded: bool = False,
) -> Sequence[OutboxMessage]:
    """The latest ``failed`` and ``dead`` messages (the dead-letter view), newest first.

    ``states`` may name ``cancelled`` to list withdrawn messages instead; discarded messages
    are left out unless ``discarded``.
    """
    return session.scalars(
        select(OutboxMessage)
        .where(*_problem_filter(states, channel, playbook, discarded))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()


def problem_count(
    session: Session,
    *,
    states: Sequence[str] = PROBLEM_STATES,
    channel: str | None = None,
    playbook: str | None = None,
    discarded: bool = False,
) -> int:
    """How many messages :func:`problems` would list without a limit (for paging)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(*_problem_filter(states, channel, playbook, discarded))
        )
        or 0
    )
