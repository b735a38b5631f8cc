"""How much of the customer list one caller may read: a page-size cap and a page rate per role.

An agent works a list of customers to call; it has no reason to copy the whole base, so the
JSON at-risk list gives an agent smaller pages (``service.max_page_size_by_role``) and a limited
number of pages per minute (``service.list_pages_per_minute_by_role``). Past the rate the list
answers 429 with ``Retry-After`` until the caller's minute ends. Roles the settings do not name
(admin by default) get ``service.max_page_size`` and no rate.

Pages are counted per principal (a user or an API key, not per address) in the same app-database
counter as failed logins (:func:`retain.app.auth.throttle.count`), so every worker and every host
sharing a PostgreSQL app database agrees on the count.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from sqlalchemy import select

from retain.app.auth import throttle
from retain.app.auth.models import LoginFailures
from retain.app.db.base import utcnow
from retain.errors import TooManyRequestsError
from retain.i18n import t

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from retain.app.audit.service import Actor
    from retain.config import ServiceSettings

__all__ = ["LIST_WINDOW_SECONDS", "ListThrottledError", "count_list_page", "max_page_size"]

LIST_WINDOW_SECONDS = 60
"""List pages are counted over windows of one minute (the settings give pages per minute)."""


class ListThrottledError(TooManyRequestsError):
    """The caller read its role's list pages for this minute: 429 with ``Retry-After``."""

    default_code = "customers.list_throttled"

    def __init__(self, retry_after: int, limit: int) -> None:
        super().__init__(
            t("security.list_throttled", pages=limit, seconds=max(1, retry_after)),
            retry_after=retry_after,
            hint=t("security.list_throttled_hint"),
        )


def max_page_size(service: ServiceSettings, role: str) -> int:
    """The largest page ``role`` may ask of the list (never above ``service.max_page_size``)."""
    cap = service.max_page_size_by_role.get(role, service.max_page_size)
    return max(1, min(cap, service.max_page_size))


def count_list_page(
    session: Session,
    actor: Actor,
    role: str,
    service: ServiceSettings,
    *,
    ident: object,
    now: dt.datetime | None = None,
) -> None:
    """Count one list page read by ``actor``; :class:`ListThrottledError` past its role's rate.

    ``ident`` is the principal's id (with ``actor.kind``, one counter per user or API key). The
    page is counted even when refused: the window is fixed, so refusals do not extend it.
    Commits ``session`` (the count must hold even if the read then fails).
    """
    limit = service.list_pages_per_minute_by_role.get(role)
    if limit is None or limit <= 0:
        return
    now = now or utcnow()
    key = throttle.digest(session, f"list_pages:{actor.kind}:{ident}")
    throttle.count(session, [key], LIST_WINDOW_SECONDS, now=now)
    session.commit()
    row = session.scalars(
        select(LoginFailures)
        .where(LoginFailures.key_hash == key)
        .execution_options(populate_existing=True)
    ).one()
    if row.failures > limit:
        ends = row.window_start + dt.timedelta(seconds=LIST_WINDOW_SECONDS)
        raise ListThrottledError(max(1, math.ceil((ends - now).total_seconds())), limit)
