"""FastAPI dependencies: settings, app-database session, warehouse, the caller and role checks.

Routes stay short: a lookup or a role check is a parameter (``_: AnalystOnly``), so the route table
itself says who may call what (``tests/app/test_authz.py`` reads it from there).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from retain.app._reads import Reads
from retain.app.auth import service as auth
from retain.app.auth.keycache import KeyCache
from retain.app.auth.roles import Permission, may
from retain.app.errors import NotAuthenticatedError, ServiceBusyError
from retain.config import Settings
from retain.errors import PermissionDeniedError
from retain.i18n import LANGUAGES, normalize_language, t
from retain.targeting.at_risk import JoinedFrames, share_frames

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "API_KEY_HEADER",
    "MAX_IN_FLIGHT",
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


MAX_IN_FLIGHT = 48
"""Warehouse requests a service admits at once; more get 503 with Retry-After (not a queue).

At the at-risk list's and customer 360's cost on two cores, 48 requests in flight clear in well
under a second; a longer queue only makes every caller wait and time out.
"""


def _alive(thread: weakref.ref[threading.Thread]) -> bool:
    """Whether the thread a cursor was made for still runs."""
    held = thread()
    return held is not None and held.is_alive()


class _Drain:
    """Counts the reads in progress so a writer can wait until none is."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = threading.Condition()

    def enter(self) -> None:
        with self._idle:
            self.count += 1

    def leave(self) -> None:
        with self._idle:
            self.count -= 1
            if self.count == 0:
                self._idle.notify_all()

    def wait(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self.count == 0)


@dataclass(eq=False)
class Warehouse:
    """The service's warehouse: reads side by side, writes one at a time, and who holds the file.

    On DuckDB every read runs on its own cursor of one shared connection (DuckDB runs queries of
    one database's cursors in parallel; one cursor must not serve two threads), so reads do
    not wait for each other. A write (an API ingest) takes :attr:`lock` exclusively, waits for
    the reads in progress, and runs alone; reads arriving meanwhile wait for it. Other engines
    serialise every request behind :attr:`lock`, as one connection must.

    A DuckDB *file* is opened read-only, so the command line may read it while the service runs
    (DuckDB admits one writing process or many reading ones), and reopened read-write only for
    the moment of a write; a holder record beside the file (:func:`retain.warehouse.hold`) tells
    a command that tries to write which process holds it. :attr:`generation` counts the writes,
    so caches of what was read can tell they are stale; :attr:`frames` holds the at-risk
    list's joined frame and recent pages (:class:`retain.targeting.at_risk.JoinedFrames`), shared
    by every cursor and cleared by each write, when the service opened the warehouse itself.

    ``lock`` is a plain :class:`threading.Lock` (FastAPI may enter a dependency in one thread
    and leave it in another; only a plain lock may be released by another thread). Code holding
    it never takes it again.
    """

    settings: Settings
    con_: BaseBackend | None = None
    reads_: Reads | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    max_in_flight: int = MAX_IN_FLIGHT
    generation: int = 0
    in_flight: int = 0
    _opening: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _given: bool = False
    _concurrent: bool | None = None
    _writing: bool = False
    _drain: _Drain = field(default_factory=_Drain, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _cursors: list[tuple[weakref.ref[threading.Thread], BaseBackend]] = field(
        default_factory=list, repr=False
    )
    frames: JoinedFrames = field(default_factory=JoinedFrames, repr=False)

    def __post_init__(self) -> None:
        self._given = self.con_ is not None

    @property
    def path(self) -> str | None:
        """The DuckDB file the service opens read-only between writes (None: a fixed connection)."""
        from retain import warehouse as wh

        return None if self._given else wh.duckdb_path(self.settings.warehouse_url)

    @property
    def root(self) -> BaseBackend:
        """The shared connection (opened on first use, so the app starts without a warehouse)."""
        with self._opening:
            if self.con_ is None:
                from retain import warehouse as wh

                path = self.path
                if path is None:
                    self.con_ = wh.connect(self.settings.warehouse_url, settings=self.settings)
                else:
                    if not FilePath(path).exists():
                        wh.connect(
                            self.settings.warehouse_url, settings=self.settings
                        ).disconnect()  # create it
                    self.con_ = wh.connect(
                        self.settings.warehouse_url, settings=self.settings, read_only=True
                    )
                    wh.hold(path)
            return self.con_

    @property
    def concurrent(self) -> bool:
        """Whether reads run side by side (DuckDB, on cursors) instead of one at a time."""
        if self._concurrent is None:
            from retain import warehouse as wh

            con = self.root
            self._concurrent = hasattr(con, "name") and wh.backend_name(con) == "duckdb"
        return self._concurrent

    @property
    def con(self) -> BaseBackend:
        """The connection for the calling thread: its own cursor on DuckDB while reading."""
        root = self.root
        if self._writing or not self.concurrent:
            return root
        mine = getattr(self._local, "con", None)
        if mine is None or getattr(self._local, "root", None) is not root:
            import ibis

            mine = ibis.duckdb.from_connection(root.con.cursor())  # type: ignore[attr-defined]
            if not self._given:  # nobody else writes it: the list's frames hold until a write
                share_frames(mine, self.frames)
            self._local.con, self._local.root = mine, root
            with self._opening:
                # a thread the pool retired leaves its cursor behind: close those here, so the
                # list holds one cursor per live thread however often the pool replaces threads
                gone = [cursor for thread, cursor in self._cursors if not _alive(thread)]
                self._cursors = [(t, c) for t, c in self._cursors if _alive(t)]
                self._cursors.append((weakref.ref(threading.current_thread()), mine))
            for cursor in gone:
                cursor.disconnect()
        return mine

    @property
    def reads(self) -> Reads:
        """Fast per-customer reads (compiled once and cached, see ``retain.app._reads``)."""
        if self.reads_ is None:
            made = Reads(lambda: self.con)  # opens the warehouse: outside ``_opening``
            with self._opening:
                if self.reads_ is None:
                    self.reads_ = made
        return self.reads_

    def begin_read(self) -> None:
        """Count a read in (the caller passed :attr:`lock` first, see :func:`hold_warehouse`)."""
        self._drain.enter()

    def end_read(self) -> None:
        """Count a read out."""
        self._drain.leave()

    def begin_write(self) -> None:
        """With :attr:`lock` held: wait for the reads, then open the file for writing."""
        self._drain.wait()
        path = self.path
        if path is not None:
            from retain import warehouse as wh

            self._close_connections()
            # waits up to wh.OPEN_WAIT_S for a command reading or writing the file elsewhere
            con = wh.connect(self.settings.warehouse_url, settings=self.settings, write=True)
            with self._opening:
                self.con_ = con
        self._writing = True

    def end_write(self) -> None:
        """After a write: forget every cache and go back to reading (the file read-only)."""
        self._writing = False
        self.generation += 1
        self.frames.clear()
        if self.reads_ is not None:
            self.reads_.forget()
        if self.path is not None:
            self._close_connections()
            self.claim()

    def claim(self) -> None:
        """Open the warehouse now (read-only for a file), so the service holds it from here on.

        A file another process is writing at this moment is left for the next request to open.
        """
        from retain import warehouse as wh

        try:
            _ = self.root
        except wh.WarehouseBusyError:
            return

    def _close_connections(self) -> None:
        with self._opening:
            cursors, self._cursors = self._cursors, []
            con, self.con_ = self.con_, None
        for _, cursor in cursors:
            cursor.disconnect()
        if con is not None and not self._given:
            con.disconnect()

    def close(self) -> None:
        """Close what this handle opened (waits for the query running now); release the file."""
        with self.lock:
            self._drain.wait()
            self._close_connections()
            path = self.path
            if path is not None:
                from retain import warehouse as wh

                wh.release(path)


class LockedWarehouse:
    """The warehouse while a request may use it: the connection and the per-customer reads.

    What :data:`LockedWarehouseDep` gives a route (reading, or writing alone for a request that
    changes state). It has no ``lock``: taking it inside a route would wait forever.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse

    @property
    def con(self) -> BaseBackend:
        """The Ibis backend for this thread (opened on first use)."""
        return self._warehouse.con

    @property
    def reads(self) -> Reads:
        """Fast per-customer reads over :attr:`con`."""
        return self._warehouse.reads

    @property
    def generation(self) -> int:
        """How many writes the service has made (a cache keyed by it is never stale)."""
        return self._warehouse.generation


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


# The cheap dependencies are coroutines: FastAPI runs a plain function in a worker thread, and
# each such hop costs a request about 0.2-0.3 ms of CPU (on the busiest routes, half the cost).


async def get_settings_dep(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """An app-database session for one request; rolled back if the route fails.

    Made on the event loop (a session connects only when first used); closed there too when
    it holds no transaction (nothing to roll back: no database call), else in a worker thread.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except Exception:
        await anyio.to_thread.run_sync(session.rollback)
        raise
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


async def get_warehouse(request: Request) -> Warehouse:
    """The shared warehouse handle."""
    handle: Warehouse = request.app.state.warehouse
    return handle


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]


async def hold_warehouse(
    request: Request, warehouse: WarehouseDep
) -> AsyncIterator[LockedWarehouse]:
    """Let the route use the warehouse: alongside other reads, or alone when it writes.

    A request that changes state (any method but GET, HEAD, OPTIONS) writes: it holds
    ``warehouse.lock`` for the whole route, waits for the reads in progress, and runs alone. A
    read passes the lock (so it waits while a write runs) and runs beside the other reads on
    DuckDB; on other engines it holds the lock too. Past ``warehouse.max_in_flight`` requests
    the service answers 503 with Retry-After at once instead of queueing.

    Requests queue for the lock on an async semaphore first, so at most one of them parks a
    worker thread on it; waiting in threads instead could take every worker of the pool while
    the holder still needs one to finish, and the service would stop.
    """
    if warehouse.in_flight >= warehouse.max_in_flight:
        raise ServiceBusyError(
            t("app.busy", count=warehouse.in_flight),
            hint=t("app.busy_hint"),
            retry_after=1,
        )
    warehouse.in_flight += 1
    taken = False
    reading = False
    writes = request.method not in _SAFE
    if warehouse._concurrent is None:
        await anyio.to_thread.run_sync(lambda: warehouse.concurrent)  # opens the warehouse
    exclusive = writes or not warehouse.concurrent

    def take() -> None:
        nonlocal taken
        warehouse.lock.acquire()
        taken = True  # set by the thread that took it, so a cancelled wait still gives it back

    try:
        async with _gate(warehouse):
            if warehouse.lock.acquire(blocking=False):
                taken = True
            else:
                await anyio.to_thread.run_sync(take)
        if not exclusive:
            warehouse.begin_read()
            reading = True
            warehouse.lock.release()
            taken = False
        elif writes:
            await anyio.to_thread.run_sync(warehouse.begin_write)
        try:
            yield LockedWarehouse(warehouse)
        finally:
            if taken and writes:
                await anyio.to_thread.run_sync(warehouse.end_write)
    finally:
        warehouse.in_flight -= 1
        if reading:
            warehouse.end_read()
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
    if request.method not in _SAFE and request.url.path.startswith("/api/"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or sent != login.csrf_token:
            raise PermissionDeniedError(t("app.csrf_failed"), code="auth.csrf_failed")
    return Principal("user", user.id, user.email, user.role, login.csrf_token, user.language)


CurrentUser = Annotated[Principal, Depends(_caller)]


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through callers whose role holds ``permission`` (else 403)."""

    async def check(principal: CurrentUser) -> Principal:
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
