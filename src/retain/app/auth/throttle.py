"""Login throttling: too many failed logins for one e-mail or from one address get 429.

Failures are counted per key over fixed windows of ``service.login_window_seconds``: once a
key holds its limit of failures, further logins with it are refused, without checking the
password, until its window ends (the ``Retry-After``). A successful login clears its e-mail's
count; the address's count is left to run out, so an attacker who owns one account cannot
reset the address limit by logging into it between guesses.

The counters live in the app database (table ``login_failures``), not in process memory, so the
workers of one ``retain serve`` and several hosts sharing a PostgreSQL app database agree: a
guesser cannot multiply the limit by the number of workers. Keys are stored as HMAC digests under
a secret generated once, never as typed, so a password typed into the e-mail field is not kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retain.app.auth.models import AppSecret, LoginFailures
from retain.app.db.base import utcnow
from retain.config import ServiceSettings
from retain.errors import TooManyRequestsError
from retain.i18n import t

__all__ = [
    "LoginThrottledError",
    "ThrottleKey",
    "ThrottleLimits",
    "check",
    "clear",
    "count",
    "digest",
    "keys_for",
    "note_failure",
]

_SALT_NAME = "login_throttle_key"


class LoginThrottledError(TooManyRequestsError):
    """Too many failed logins for this e-mail or address: try again in ``retry_after`` seconds.

    HTTP 429 with a ``Retry-After`` header wherever a login is answered.
    """

    default_code = "auth.login_throttled"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            t("security.login_throttled", minutes=minutes),
            retry_after=retry_after,
            hint=t("security.login_throttled_hint"),
        )


@dataclass(frozen=True)
class ThrottleLimits:
    """How many failures a window allows, per e-mail and per client address."""

    window_seconds: int = 900
    per_email: int = 5
    per_address: int = 50

    @classmethod
    def from_settings(cls, service: ServiceSettings) -> ThrottleLimits:
        """The limits ``[service]`` configures."""
        return cls(
            window_seconds=service.login_window_seconds,
            per_email=service.login_max_failures_per_email,
            per_address=service.login_max_failures_per_address,
        )


@dataclass(frozen=True)
class ThrottleKey:
    """One throttle key: the digest stored and how many failures its window allows."""

    digest: str
    limit: int


def _secret(session: Session) -> bytes:
    """The HMAC key of the throttle digests, generated once and kept in the app database."""
    row = session.get(AppSecret, _SALT_NAME)
    if row is None:
        try:
            with session.begin_nested():
                row = AppSecret(name=_SALT_NAME, value=secrets.token_urlsafe(32))
                session.add(row)
        except IntegrityError:  # another worker made it first: use theirs
            row = session.get(AppSecret, _SALT_NAME, populate_existing=True)
            assert row is not None
    return row.value.encode("utf-8")


def digest(session: Session, text: str) -> str:
    """The stored form of a counter key: an HMAC under the generated secret, never ``text``."""
    return hmac.new(_secret(session), text.encode("utf-8"), hashlib.sha256).hexdigest()


def keys_for(
    session: Session, *, email: str, address: str | None, limits: ThrottleLimits
) -> list[ThrottleKey]:
    """The throttle keys of one login attempt: its e-mail and, when known, its address."""
    found = [ThrottleKey(digest(session, "email:" + email.strip().lower()), limits.per_email)]
    if address:
        found.append(ThrottleKey(digest(session, "address:" + address), limits.per_address))
    return found


def check(
    session: Session,
    keys: Sequence[ThrottleKey],
    limits: ThrottleLimits,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Raise :class:`LoginThrottledError` if any key has used up its window's failures."""
    now = now or utcnow()
    window = dt.timedelta(seconds=limits.window_seconds)
    rows = {
        row.key_hash: row
        for row in session.scalars(
            select(LoginFailures)
            .where(LoginFailures.key_hash.in_([k.digest for k in keys]))
            .execution_options(populate_existing=True)  # counts change under the ORM's feet
        )
    }
    waits = [
        (rows[k.digest].window_start + window - now).total_seconds()
        for k in keys
        if k.digest in rows
        and rows[k.digest].failures >= k.limit
        and rows[k.digest].window_start + window > now
    ]
    if waits:
        raise LoginThrottledError(max(1, math.ceil(max(waits))))


def note_failure(
    session: Session,
    keys: Sequence[ThrottleKey],
    limits: ThrottleLimits,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Count one failed login against each key (a new window when the last one has ended).

    One ``INSERT ... ON CONFLICT DO UPDATE`` per key, so concurrent workers never lose a count.
    The caller commits.
    """
    count(session, [key.digest for key in keys], limits.window_seconds, now=now or utcnow())


def count(
    session: Session, digests: Sequence[str], window_seconds: int, *, now: dt.datetime
) -> None:
    """Add one to each counter in ``digests`` (a new window when the last one has ended).

    The one counter of the service: failed logins and list pages read both use it. One
    ``INSERT ... ON CONFLICT DO UPDATE`` per key, so concurrent workers never lose a count.
    The caller commits.
    """
    ended = now - dt.timedelta(seconds=window_seconds)
    postgres = session.get_bind().dialect.name == "postgresql"
    stale = LoginFailures.window_start <= ended
    counted = {
        "failures": case((stale, 1), else_=LoginFailures.failures + 1),
        "window_start": case((stale, now), else_=LoginFailures.window_start),
    }
    for key in digests:
        row = {"key_hash": key, "failures": 1, "window_start": now}
        if postgres:
            pg = pg_insert(LoginFailures).values(**row)
            session.execute(pg.on_conflict_do_update(index_elements=["key_hash"], set_=counted))
        else:
            lite = sqlite_insert(LoginFailures).values(**row)
            session.execute(lite.on_conflict_do_update(index_elements=["key_hash"], set_=counted))


def clear(session: Session, keys: Sequence[ThrottleKey]) -> None:
    """Forget the failures of ``keys`` (a successful login clears its e-mail's). Caller commits."""
    session.execute(
        delete(LoginFailures).where(LoginFailures.key_hash.in_([k.digest for k in keys]))
    )
