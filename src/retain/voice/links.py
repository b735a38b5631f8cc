"""Signed, expiring links for survey invitations and the hosted cancellation page.

A link's token is ``<payload>.<signature>``: the payload (URL-safe base64 of compact JSON) names
the purpose (``survey`` or ``cancel``), a random link id, the customer, the survey, the page
language and the expiry (Unix seconds); the signature is HMAC-SHA256 of the payload under a key
derived from the app secret for this purpose only, compared in constant time. So nobody without
the secret can make or alter a link, a survey link never opens the cancellation page, and an
expired link is refused even if its database row were gone. The database keeps only SHA-256 of
the link id (:func:`id_hash`), which is what makes a link single-use there.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Final, Literal

from retain.errors import RetainError
from retain.i18n import t

__all__ = ["PURPOSES", "LinkClaims", "LinkError", "id_hash", "sign", "verify"]

PURPOSES: Final = ("survey", "cancel")
Purpose = Literal["survey", "cancel"]


class LinkError(RetainError):
    """A link that is not valid: ``reason`` is ``forged``, ``expired``, ``used`` or ``unknown``."""

    default_code = "voice.link_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(t(f"voice_surveys.link_{reason}"))
        self.reason = reason


@dataclass(frozen=True)
class LinkClaims:
    """What a valid link says."""

    purpose: str
    link_id: str
    customer_id: str
    survey: str
    language: str
    expires_at: dt.datetime
    """Naive UTC."""


def _key(secret: str | bytes, purpose: str) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, f"retain-voice-link:{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def id_hash(link_id: str) -> str:
    """SHA-256 (hex) of a link id: what the database stores instead of the id."""
    return hashlib.sha256(link_id.encode()).hexdigest()


def sign(
    secret: str | bytes,
    *,
    purpose: Purpose,
    customer_id: str,
    expires_at: dt.datetime,
    survey: str = "",
    language: str = "en",
    link_id: str | None = None,
) -> tuple[str, LinkClaims]:
    """A new token and its claims; ``link_id`` defaults to 128 random bits."""
    claims = LinkClaims(
        purpose=purpose,
        link_id=link_id or secrets.token_urlsafe(16),
        customer_id=customer_id,
        survey=survey,
        language=language,
        expires_at=expires_at.replace(microsecond=0),
    )
    epoch = int(claims.expires_at.replace(tzinfo=dt.UTC).timestamp())
    body = {
        "p": purpose,
        "i": claims.link_id,
        "c": customer_id,
        "s": survey,
        "l": language,
        "e": epoch,
    }
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    mac = hmac.new(_key(secret, purpose), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}", claims


def verify(
    secret: str | bytes, token: str, *, purpose: Purpose, now: dt.datetime | None = None
) -> LinkClaims:
    """The claims of a genuine, unexpired token for ``purpose``; else :class:`LinkError`."""
    payload, _, mac = token.partition(".")
    if not payload or not mac or len(token) > 4096:
        raise LinkError("forged")
    expected = hmac.new(_key(secret, purpose), payload.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        body = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        raise LinkError("forged") from None
    if not hmac.compare_digest(given, expected) or not isinstance(body, dict):
        raise LinkError("forged")
    if body.get("p") != purpose:
        raise LinkError("forged")
    expires = dt.datetime.fromtimestamp(int(body["e"]), dt.UTC).replace(tzinfo=None)
    current = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if current >= expires:
        raise LinkError("expired")
    return LinkClaims(
        purpose=purpose,
        link_id=str(body["i"]),
        customer_id=str(body["c"]),
        survey=str(body.get("s", "")),
        language=str(body.get("l", "en")),
        expires_at=expires,
    )
