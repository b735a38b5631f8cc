"""FastAPI dependencies: settings, app-database session, warehouse, the caller and role checks.

Routes stay short: a lookup or a role check is a parameter (``_: AnalystOnly``), so the route table
itself says who may call what (``tests/app/test_authz.py`` reads it from there).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from retain.app._reads import Reads
from retain.app.auth import service as auth
from retain.app.auth.roles import Permission, may
from retain.app.errors import NotAuthenticatedError
from retain.config import Settings
from retain.errors import PermissionDeniedError
from retain.i18n import LANGUAGES, normalize_language, t

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "API_KEY_HEADER",
    "SESSION_COOKIE",
    "AdminOnly",
    "AnalystOnly",
    "CanExport",
    "CanIngest",
    "CanManageKeys",
    "CanReadAtRisk",
    "CanReadAudit",
    "CanReadCustomers",
    "CanReadModels",
    "CanReadSegments",
    "CanReadSettings",
    "CanWriteSegments",
    "CurrentUser",
    "IdPath",
    "LockedWarehouse",
    "LockedWarehouseDep",
    "Principal",
    "SessionDep",
    "SettingsDep",
    "Warehouse",
    "WarehouseDep",
    "current_principal",
    "hold_warehouse",
    "request_language",
    "require",
]

API_KEY_HEADER = "X-API-Key"
SESSION_COOKIE = "retain_session"
LANG_COOKIE = "retain_lang"
CSRF_HEADER = "X-CSRF-Token"
_SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass(eq=False)
class Warehouse:
    """The service's warehouse connection and the lock that serialises its use across threads.

    One embedded DuckDB connection is not safe to share between threads (DuckDB wants a cursor
    per thread, and Ibis keeps one connection per backend), and the service runs sync routes in
    a thread pool, so every query, read or write, holds ``lock``. Routes take it with
    :data:`LockedWarehouseDep` for their whole run; ``with warehouse.lock:`` blocks still work.

    ``lock`` is a plain :class:`threading.Lock`: FastAPI may enter a dependency in one thread
    and leave it in another, and only a plain lock may be released by a thread that did not
    take it. It is not reentrant, so code holding it never takes it again; opening the
    connection uses its own small lock so that :attr:`con` and :attr:`reads` work inside.
    """

    settings: Settings
    con_: BaseBackend | None = None
    reads_: Reads | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _opening: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def con(self) -> BaseBackend:
        """The Ibis backend, opened on first use (so the app starts without a warehouse file)."""
        with self._opening:
            if self.con_ is None:
                from retain import warehouse as wh

                self.con_ = wh.connect(self.settings.warehouse_url)
            return self.con_

    @property
    def reads(self) -> Reads:
        """Fast per-customer reads over :attr:`con` (compiled once, see ``retain.app._reads``)."""
        con = self.con
        with self._opening:
            if self.reads_ is None or self.reads_.con is not con:
                self.reads_ = Reads(con)
            return self.reads_

    def close(self) -> None:
        """Close the connection if this handle opened one (waits for the query running now)."""
        with self.lock, self._opening:
            if self.con_ is not None:
                self.con_.disconnect()
                self.con_ = None


class LockedWarehouse:
    """The warehouse while a request holds its lock: the connection and the per-customer reads.

    What :data:`LockedWarehouseDep` gives a route. It has no ``lock``: the route already holds
    it, and taking it again would wait forever.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse

    @property
    def con(self) -> BaseBackend:
        """The Ibis backend (opened on first use)."""
        return self._warehouse.con

    @property
    def reads(self) -> Reads:
        """Fast per-customer reads over :attr:`con`."""
        return self._warehouse.reads


_GATES: RunVar[WeakKeyDictionary[Warehouse, anyio.Semaphore]] = RunVar("retain_warehouse_gates")


def _gate(warehouse: Warehouse) -> anyio.Semaphore:
    """The event loop's queue for ``warehouse``'s lock (one per loop: TestClient runs several)."""
    gates = _GATES.get(None)
    if gates is None:
        gates = WeakKeyDictionary()
        _GATES.set(gates)
    gate = gates.get(warehouse)
    if gate is None:
        gate = gates[warehouse] = anyio.Semaphore(1)
    return gate


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


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """An app-database session for one request; rolled back if the route fails."""
    with request.app.state.sessionmaker() as session:
        try:
            yield session
        except Exception:
            session.rollback()
            raise


def get_warehouse(request: Request) -> Warehouse:
    """The shared warehouse handle."""
    handle: Warehouse = request.app.state.warehouse
    return handle


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]


async def hold_warehouse(warehouse: WarehouseDep) -> AsyncIterator[LockedWarehouse]:
    """Hold the warehouse lock for the whole route, released when it ends, even on an error.

    Requests queue on an async semaphore first, so at most one of them parks a worker thread
    on the lock (that wait is for a ``with warehouse.lock:`` block elsewhere). Waiting in
    threads instead could take every worker of the pool while the holder still needs one to
    finish, and the service would stop.
    """
    taken = False

    def take() -> None:
        nonlocal taken
        warehouse.lock.acquire()
        taken = True  # set by the thread that took it, so a cancelled wait still gives it back

    async with _gate(warehouse):
        try:
            if warehouse.lock.acquire(blocking=False):
                taken = True
            else:
                await anyio.to_thread.run_sync(take)
            yield LockedWarehouse(warehouse)
        finally:
            if taken:
                warehouse.lock.release()


LockedWarehouseDep = Annotated[LockedWarehouse, Depends(hold_warehouse)]
"""The warehouse, locked for the route's whole run (see :func:`hold_warehouse`)."""


def request_language(request: Request) -> str:
    """``?lang=``, then the language cookie, then Accept-Language, then the configured language."""
    query = request.query_params.get("lang")
    if query and query in LANGUAGES:
        return query
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie and cookie in LANGUAGES:
        return cookie
    accept = request.headers.get("accept-language", "")
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return normalize_language(code)
    return str(request.app.state.settings.language)


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
    waits for the warehouse.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    with request.app.state.sessionmaker() as session:
        principal = _identify(request, session)
    request.state.principal = principal
    return principal


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
    if request.method not in _SAFE and request.url.path.startswith("/api/"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or sent != login.csrf_token:
            raise PermissionDeniedError(t("app.csrf_failed"), code="auth.csrf_failed")
    return Principal("user", user.id, user.email, user.role, login.csrf_token, user.language)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[..., Principal]:
    """A dependency that lets through callers whose role holds ``permission`` (else 403)."""

    def check(principal: CurrentUser) -> Principal:
        if not principal.may(permission):
            raise PermissionDeniedError(
                t("app.forbidden", role=principal.role, permission=permission.value),
                hint=t("app.forbidden_hint"),
            )
        return principal

    check.permission = permission  # type: ignore[attr-defined]
    check.__name__ = f"require_{permission.name}"
    return check


AdminOnly = Annotated[Principal, Depends(require(Permission.users_manage))]
CanManageKeys = Annotated[Principal, Depends(require(Permission.keys_manage))]
CanReadSettings = Annotated[Principal, Depends(require(Permission.settings_read))]
CanReadAudit = Annotated[Principal, Depends(require(Permission.audit_read))]
AnalystOnly = Annotated[Principal, Depends(require(Permission.metrics_read))]
CanReadModels = Annotated[Principal, Depends(require(Permission.models_read))]
CanIngest = Annotated[Principal, Depends(require(Permission.ingest_write))]
CanReadCustomers = Annotated[Principal, Depends(require(Permission.customers_read))]
CanReadAtRisk = Annotated[Principal, Depends(require(Permission.at_risk_read))]
CanExport = Annotated[Principal, Depends(require(Permission.export))]
CanReadSegments = Annotated[Principal, Depends(require(Permission.segments_read))]
CanWriteSegments = Annotated[Principal, Depends(require(Permission.segments_write))]

IdPath = Annotated[int, Path(ge=1, le=2**53, description="Numeric id.")]
"""A numeric id in a path, bounded so every database can hold it."""
