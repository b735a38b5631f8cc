"""Webhook delivery: signed JSON with an idempotency key, timeouts, guarded redirects, backoff.

Each request carries ``Idempotency-Key`` (the message's stable key: a receiver that remembers it
never acts twice, even when a crashed worker re-sends) and ``X-Retain-Signature:
t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` keyed with ``engage.webhook_secret``, so
the receiver can check origin and freshness. Every hop, redirects included, passes
:func:`retain.engage.netguard.check_url` and connects to the checked address.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import random
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from retain.engage.netguard import BlockedTargetError, Resolver, check_url, connect_checked

__all__ = ["SIGNATURE_HEADER", "WebhookResult", "backoff_seconds", "post_json", "sign", "verify"]

SIGNATURE_HEADER = "X-Retain-Signature"
_REDIRECTS = {301, 302, 303, 307, 308}
_RNG = random.Random()  # noqa: S311  (retry jitter, not security)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance_seconds: int = 300) -> bool:
    """Check a signature header as a receiver would (shown in docs/engage.md)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    # Bytes: compare_digest raises TypeError on a str that is not ASCII (a forged header).
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), header.encode())


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Delay before try ``attempt + 1``: base doubling per try, capped, half of it jittered."""
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return ceiling / 2 + (rng or _RNG).uniform(0, ceiling / 2)


@dataclass(frozen=True)
class WebhookResult:
    """What the receiver said: ``ok``; otherwise whether a retry may help, and why not."""

    ok: bool
    retryable: bool
    status: int | None
    detail: str


def post_json(
    url: str,
    body: bytes,
    *,
    secret: str,
    idempotency_key: str,
    timeout: float,
    allow: Sequence[str] = (),
    resolver: Resolver | None = None,
    max_redirects: int = 3,
    headers: Mapping[str, str] | None = None,
) -> WebhookResult:
    """POST ``body`` (JSON) to ``url``, following up to ``max_redirects`` checked redirects."""
    for _hop in range(max_redirects + 1):
        try:
            target = check_url(url, allow=allow, resolver=resolver)
        except BlockedTargetError as exc:
            return WebhookResult(False, False, None, exc.message)
        default_port = 443 if target.scheme == "https" else 80
        host = f"[{target.host}]" if ":" in target.host else target.host  # an IPv6 literal
        host_header = host if target.port == default_port else f"{host}:{target.port}"
        sent = {
            "Host": host_header,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "retain-webhook/1",
            "Idempotency-Key": idempotency_key,
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            **(headers or {}),
        }
        conn = connect_checked(target, timeout)
        try:
            conn.request("POST", target.path, body=body, headers=sent)
            response = conn.getresponse()
            status = response.status
            location = response.getheader("Location")
            response.read(64 * 1024)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            return WebhookResult(False, True, None, f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
        if status in _REDIRECTS and location:
            url = urljoin(url, location)
            continue
        if 200 <= status < 300:
            return WebhookResult(True, False, status, f"HTTP {status}")
        retryable = status in (408, 425, 429) or status >= 500
        return WebhookResult(False, retryable, status, f"HTTP {status}")
    return WebhookResult(False, False, None, f"more than {max_redirects} redirects")
