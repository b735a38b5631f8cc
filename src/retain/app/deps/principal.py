"""Who is calling: authentication by API key or login cookie, as a route's dependency.

:data:`CurrentUser` gives a route the :class:`Principal`; an API key that verified is
remembered for a few seconds (:mod:`retain.app.auth.keycache`), and a cookie-authenticated API
request that changes state must echo the session's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from retain.app.auth import service as auth
from retain.app.auth.keycache import KeyCache
from retain.app.auth.roles import Permission, may
from retain.app.deps.request import SAFE_METHODS
from retain.app.errors import NotAuthenticatedError
from retain.errors import PermissionDeniedError
from retain.i18n import t

__all__ = [
    "API_KEY_HEADER",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CurrentUser",
    "Principal",
    "current_principal",
]

API_KEY_HEADER = "X-API-Key"
SESSION_COOKIE = "retain_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a logged-in user or an API key, with one role."""

    kind: str
    """``user`` or ``api_key``."""
    id: int
    name: str
    """The user's e-mail or the key's name (what the audit log records)."""
    role: str
    csrf_token: str | None = None
    language: str | None = None

    def may(self, permission: Permission) -> bool:
        """Whether this caller's role holds ``permission``."""
        return may(self.role, permission)


def _bearer(request: Request) -> str | None:
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return key
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def current_principal(request: Request) -> Principal:
    """The caller, from an API key header or the login cookie; 401 when neither is valid.

    A cookie-authenticated request that changes state must echo the session's CSRF token in
    ``X-CSRF-Token`` (forms post it as a field; the web routes check it there). The lookup uses
    its own short session, so a read-only route holds no app-database connection while it
    waits for the warehouse. An API key that verified is remembered for a few seconds
    (:mod:`retain.app.auth.keycache`).
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    raw = _bearer(request)
    keys = _key_cache(request)
    known = keys.get(raw) if raw is not None else None
    if isinstance(known, Principal):
        request.state.principal = known
        return known
    generation = keys.generation  # before the lookup: a revoke meanwhile must not be undone
    with request.app.state.sessionmaker() as session:
        principal = _identify(request, session)
    if raw is not None and principal.kind == "api_key":
        keys.put(raw, principal, generation)
    request.state.principal = principal
    return principal


async def _caller(request: Request) -> Principal:
    """:func:`current_principal` as the routes' dependency.

    On the event loop when the key is cached (no worker thread), in a worker thread when it
    must be looked up.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    raw = _bearer(request)
    if raw is not None:
        known = _key_cache(request).get(raw)
        if isinstance(known, Principal):
            request.state.principal = known
            return known
    return await anyio.to_thread.run_sync(current_principal, request)


_caller.__name__ = "current_principal"  # the OpenAPI documents 401 by this name (_openapi)


def _key_cache(request: Request) -> KeyCache[object]:
    """The app's cache of verified API keys (made on first use)."""
    state = request.app.state
    cache: KeyCache[object] | None = getattr(state, "key_cache", None)
    if cache is None:
        cache = state.key_cache = KeyCache()
    return cache


def _identify(request: Request, session: Session) -> Principal:
    raw = _bearer(request)
    if raw is not None:
        key = auth.lookup_api_key(session, raw)
        if key is None:
            raise NotAuthenticatedError(
                t("app.bad_api_key"), hint=t("app.bad_api_key_hint"), code="auth.bad_api_key"
            )
        return Principal("api_key", key.id, key.name, key.role)
    token = request.cookies.get(SESSION_COOKIE)
    found = auth.lookup_session(session, token) if token else None
    if found is None:
        raise NotAuthenticatedError(t("app.auth_required"), hint=t("app.auth_required_hint"))
    login, user = found
    if request.method not in SAFE_METHODS and request.url.path.startswith("/api/"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or sent != login.csrf_token:
            raise PermissionDeniedError(t("app.csrf_failed"), code="auth.csrf_failed")
    return Principal("user", user.id, user.email, user.role, login.csrf_token, user.language)


CurrentUser = Annotated[Principal, Depends(_caller)]
