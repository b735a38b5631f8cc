"""The suppression list and signed unsubscribe links.

An address lands on the list when its owner unsubscribes (the page or the RFC 8058 one-click
POST, or an SMS STOP reply), when the SMTP server refuses it permanently (5xx) or when a
complaint is recorded; the worker never sends to a listed address or number. Listing one also
cancels, in the same transaction, the messages still queued to it (reason ``suppressed``), so a
message decided before the opt-out and waiting for quiet hours never goes out.

Unsubscribe tokens are HMAC-SHA256 signed with ``engage.signing_secret`` or, when that is
empty, a key generated once and kept in the app database, so a link cannot be forged to
unsubscribe someone else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.engage import outbox
from retain.engage._tables import EngageKey, OutboxMessage, Suppression
from retain.engage.outbox import insert_ignoring
from retain.engage.sms import normal_number

__all__ = [
    "REASONS",
    "Unsubscribe",
    "cancel_queued_to",
    "is_suppressed",
    "make_token",
    "normal_address",
    "read_token",
    "signing_key",
    "suppress",
    "suppressed_among",
]

REASONS = ("unsubscribe", "bounce", "complaint", "manual")
_KEY_NAME = "unsubscribe"


def normal_address(address: str) -> str:
    """The list's key: an e-mail address in lower case, a phone number without separators."""
    key = address.strip().lower()
    if "@" not in key:
        return normal_number(key) or key
    return key


_normal = normal_address


def suppress(
    session: Session,
    address: str,
    reason: str,
    *,
    customer_id: str | None = None,
    detail: str | None = None,
) -> bool:
    """Put ``address`` on the list (in the caller's transaction); False when already there.

    Either way the messages still queued to it are cancelled (:func:`cancel_queued_to`).
    """
    key = _normal(address)
    cancel_queued_to(session, key)
    if session.get(Suppression, key) is not None:
        return False
    values = {
        "address": key,
        "reason": reason,
        "customer_id": customer_id,
        "detail": detail,
        "created_at": utcnow(),
    }
    return insert_ignoring(session, Suppression.__table__, values)


def cancel_queued_to(session: Session, address: str, *, reason: str = "suppressed") -> int:
    """Cancel the ``queued`` e-mail or SMS to ``address`` (caller commits); how many.

    Recipients are compared in the list's normal form: an address case-insensitively, a number
    whatever its spaces, dashes or brackets (the rows are narrowed by the number's last four
    digits, then compared exactly). A message a worker holds right now is not touched: the
    worker checks the list again before it sends.
    """
    key = _normal(address)
    if "@" in key:
        where: list[Any] = [
            OutboxMessage.channel == "email",
            func.lower(func.trim(OutboxMessage.recipient)) == key,
        ]
    else:
        where = [OutboxMessage.channel == "sms", OutboxMessage.recipient.like(f"%{key[-4:]}")]
    rows = session.execute(
        select(OutboxMessage.idempotency_key, OutboxMessage.recipient).where(
            OutboxMessage.state == "queued", *where
        )
    ).all()
    keys = [k for k, recipient in rows if _normal(recipient) == key]
    return outbox.cancel(session, reason=reason, keys=keys) if keys else 0


def is_suppressed(session: Session, address: str) -> bool:
    """Whether ``address`` receives nothing more."""
    return session.get(Suppression, _normal(address)) is not None


def suppressed_among(session: Session, addresses: Iterable[str]) -> set[str]:
    """Which of ``addresses`` (normalised: lower case) are listed; one query for a batch."""
    wanted = sorted({_normal(a) for a in addresses})
    if not wanted:
        return set()
    return set(session.scalars(select(Suppression.address).where(Suppression.address.in_(wanted))))


def signing_key(session: Session, configured: str = "") -> bytes:
    """The configured secret, else the key kept in the app database (created on first use)."""
    if configured:
        return configured.encode()
    row = session.get(EngageKey, _KEY_NAME)
    if row is None:
        values = {"name": _KEY_NAME, "value": secrets.token_hex(32), "created_at": utcnow()}
        insert_ignoring(session, EngageKey.__table__, values)
        session.commit()
        row = session.scalars(select(EngageKey).where(EngageKey.name == _KEY_NAME)).one()
    return row.value.encode()


@dataclass(frozen=True)
class Unsubscribe:
    """Who an unsubscribe token names."""

    address: str
    customer_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(key: bytes, address: str, customer_id: str) -> str:
    """A URL-safe token naming ``address``; only ``key`` can make one that verifies."""
    body = _b64(json.dumps([_normal(address), customer_id], ensure_ascii=False).encode())
    mac = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def read_token(key: bytes, token: str) -> Unsubscribe | None:
    """The address and customer a valid token names; None when forged or malformed."""
    body, _, mac = token.partition(".")
    if not body or not mac:
        return None
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    # Bytes: compare_digest raises TypeError on a str that is not ASCII (a forged link).
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return None
    try:
        address, customer_id = json.loads(_unb64(body))
    except (ValueError, binascii.Error, TypeError):
        return None
    return Unsubscribe(str(address), str(customer_id))
