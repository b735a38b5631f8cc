"""The suppression list and signed unsubscribe links.

An address lands on the list when its owner unsubscribes (the page or the RFC 8058 one-click
POST, or an SMS STOP reply), when the SMTP server refuses it permanently (5xx) or when a
complaint is recorded; the worker never sends to a listed address or number. Listing one also
cancels, in the same transaction, the messages still queued to it (reason ``suppressed``), so a
message decided before the opt-out and waiting for quiet hours never goes out. Numbers are
keyed in E.164 (:mod:`retain.engage.phone`) and matched in every form they may be stored under,
so a STOP reported as ``+819012345678`` stops the customer stored as ``090-1234-5678``.

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

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.engage import outbox
from retain.engage._tables import EngageKey, OutboxMessage, Suppression
from retain.engage.outbox import insert_ignoring
from retain.engage.phone import phone_key, variants

__all__ = [
    "REASONS",
    "Unsubscribe",
    "cancel_queued_to",
    "forms",
    "is_suppressed",
    "make_token",
    "normal_address",
    "queued_to",
    "read_token",
    "signing_key",
    "suppress",
    "suppressed_among",
]

REASONS = ("unsubscribe", "bounce", "complaint", "manual")
_KEY_NAME = "unsubscribe"


def normal_address(address: str, region: str | None = None) -> str:
    """The list's key: an e-mail address in lower case, a phone number in E.164.

    A number is read in ``region`` (the customer's country) when it is national
    (:func:`retain.engage.phone.e164`); one that cannot be read keeps its digits (the form
    lists written before numbers were normalised hold), which :func:`forms` still matches.
    """
    key = address.strip().lower()
    if "@" not in key:
        return phone_key(key, region) or key
    return key


_normal = normal_address


def forms(key: str) -> frozenset[str]:
    """The exact strings ``key`` (a :func:`normal_address`) may be stored under, lower case.

    An address is itself; a number is its E.164 and national forms
    (:func:`retain.engage.phone.variants`), so a STOP from ``+819012345678`` finds the list
    entry or the queued SMS of ``090-1234-5678`` and the reverse.
    """
    return frozenset({key}) if "@" in key else variants(key)


def suppress(
    session: Session,
    address: str,
    reason: str,
    *,
    customer_id: str | None = None,
    detail: str | None = None,
    region: str | None = None,
) -> bool:
    """Put ``address`` on the list (in the caller's transaction); False when already there.

    Either way the messages still queued to it are cancelled (:func:`cancel_queued_to`). A
    national number is read in ``region`` (the customer's country); a number already listed
    in another of its forms counts as there.
    """
    key = _normal(address, region)
    cancel_queued_to(session, key)
    listed = session.scalar(select(Suppression.address).where(Suppression.address.in_(forms(key))))
    if listed is not None:
        return False
    values = {
        "address": key,
        "reason": reason,
        "customer_id": customer_id,
        "detail": detail,
        "created_at": utcnow(),
    }
    return insert_ignoring(session, Suppression.__table__, values)


def queued_to(key: str) -> Select[str]:
    """The idempotency keys of the ``queued`` e-mail or SMS to ``key`` (a normal address).

    ``lower(recipient) IN (forms)``: the outbox's ``ix_engage_outbox_recipient`` index answers
    it, where comparing a transformed column (``lower(trim(...))``, ``LIKE '%1234'``) read
    every row.
    """
    channel = "email" if "@" in key else "sms"
    return select(OutboxMessage.idempotency_key).where(
        func.lower(OutboxMessage.recipient).in_(sorted(forms(key))),
        OutboxMessage.state == "queued",
        OutboxMessage.channel == channel,
    )


def cancel_queued_to(
    session: Session, address: str, *, reason: str = "suppressed", region: str | None = None
) -> int:
    """Cancel the ``queued`` e-mail or SMS to ``address`` (caller commits); how many.

    Recipients are compared in the list's normal form: an address case-insensitively, a number
    in any of its :func:`forms` (E.164 or national; separators were dropped when the row was
    written). A message a worker holds right now is not touched: the worker checks the list
    again before it sends.
    """
    keys = list(session.scalars(queued_to(_normal(address, region))))
    return outbox.cancel(session, reason=reason, keys=keys) if keys else 0


def is_suppressed(session: Session, address: str, region: str | None = None) -> bool:
    """Whether ``address`` receives nothing more (a number: in any of its forms)."""
    return bool(suppressed_among(session, [address], region=region))


def suppressed_among(
    session: Session, addresses: Iterable[str], *, region: str | None = None
) -> set[str]:
    """Which of ``addresses`` are listed, as their :func:`normal_address`; one query a batch."""
    wanted = {_normal(a, region) for a in addresses}
    every = {form: key for key in wanted for form in forms(key)}
    if not every:
        return set()
    found = session.scalars(
        select(Suppression.address).where(Suppression.address.in_(sorted(every)))
    )
    return {every[a] for a in found}


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
