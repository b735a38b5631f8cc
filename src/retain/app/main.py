"""``create_app(settings)``: the FastAPI application, built on demand (nothing at import time).

The app holds an app-database engine (users, keys, sessions, audit log, segments), the warehouse
(reads side by side, writes alone, a DuckDB file held read-only between writes so the command
line can read it; see :class:`retain.app.deps.Warehouse`), the API routers under ``/api/v1``
and the dashboard. Every error leaves in one JSON shape (``retain.app.errors``); request bodies
are capped at ``service.max_request_bytes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from retain.app._openapi import document_errors
from retain.app.deps import Warehouse, request_language
from retain.app.errors import error_body, install_error_handlers, unexpected_error
from retain.config import Settings, get_settings
from retain.i18n import language, t

__all__ = ["GC_THRESHOLDS", "create_app", "prepare_process"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Health(BaseModel):
    """``GET /healthz``: the process is up and answering."""

    status: str = "ok"


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request

        with language(request_language(Request(scope))):
            body = error_body(413, "request.too_large", t("app.too_large", limit=self.limit))
        await JSONResponse(body, status_code=413)(scope, receive, send)


class ErrorBoundary:
    """Answer an unexpected exception with the canonical 500 and keep the connection usable.

    Starlette's outermost middleware answers 500 too, but then re-raises, and uvicorn resets the
    client's keep-alive connection after an error that reached it, so the client's next
    request on that connection failed. Here the error is logged and answered, and only an error
    after the response started (which cannot be completed) goes on to the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            from starlette.requests import Request

            response = await unexpected_error(Request(scope), exc)
            await response(scope, receive, send)


_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of every HTML page.

The dashboard serves its script and stylesheet from ``/static`` and has no inline script or
``<style>`` element, so neither needs a nonce. Only ``style`` attributes are allowed inline
(the retention heatmap colours each cell); they cannot run code.
"""

API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""The policy of everything else (JSON, CSV): nothing may load from it, nothing may frame it."""


class LanguageAndHeaders:
    """Render messages in the request's language; add Content-Language and safety headers.

    The safety headers include a Content-Security-Policy: :data:`PAGE_CSP` on HTML pages,
    :data:`API_CSP` on every other response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        lang = request_language(Request(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {name.lower() for name, _ in headers}
                headers += [h for h in _HEADERS if h[0] not in names]
                if b"content-security-policy" not in names:
                    kind = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                    policy = PAGE_CSP if kind.startswith(b"text/html") else API_CSP
                    headers.append((b"content-security-policy", policy.encode()))
                if b"content-language" not in names:
                    headers.append((b"content-language", lang.encode()))
                message["headers"] = headers
            await send(message)

        with language(lang):
            await self.app(scope, receive, send_with_headers)


def create_app(
    settings: Settings | None = None,
    *,
    warehouse: Any = None,
    migrate: bool = False,
    serving: bool = False,
) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Configuration; :func:`retain.config.get_settings` when omitted.
    warehouse
        An open Ibis backend to serve from (tests, notebooks); by default the app opens
        ``settings.warehouse_url`` on first use and closes it at shutdown.
    migrate
        Apply the app database's migrations at start (``retain serve`` does).
    serving
        This process is about to serve the app and nothing else (``retain serve``): tune its
        garbage collector once the app is built (:func:`prepare_process`).
    """
    settings = settings or get_settings()
    handle = Warehouse(settings=settings, con_=warehouse)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warehouse is None and handle.path is not None:
            handle.claim()  # hold the file from the start: commands see who has it
        checkpointer.start()
        try:
            yield
        finally:
            checkpointer.stop()
            if warehouse is None:
                handle.close()
            app.state.engine.dispose()

    from retain.app.db import WalCheckpointer, make_engine, make_sessionmaker, upgrade

    if migrate:
        upgrade(settings.database_url)
    # SQLite's checkpoints run beside the requests, never inside one (WalCheckpointer)
    engine = make_engine(settings.database_url, background_checkpoints=True)
    checkpointer = WalCheckpointer(engine)

    app = FastAPI(
        title="retain",
        summary="Customer retention service: ingest, metrics, churn risk with reasons, CLV.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.warehouse = handle
    from retain.app.surveys.offers import ServiceOffers

    app.state.voice_offer_source = ServiceOffers(settings)  # the cancel page's planned offers
    install_error_handlers(app)

    from retain.app.audit.router import router as audit_router
    from retain.app.auth.router import router as auth_router
    from retain.app.customers.router import router as customers_router
    from retain.app.engage.router import router as engage_router
    from retain.app.ingest.router import router as ingest_router
    from retain.app.metrics.router import router as metrics_router
    from retain.app.models.router import router as models_router
    from retain.app.offers.router import router as offers_router
    from retain.app.playbooks.router import router as playbooks_router
    from retain.app.segments.router import router as segments_router
    from retain.app.surveys.router import router as surveys_router
    from retain.app.uplift.router import router as uplift_router  # the API and the /uplift page
    from retain.app.voice_cases.router import router as voice_cases_router
    from retain.app.web import mount_web
    from retain.app.web.playbooks import router as playbooks_pages

    for router in (
        auth_router,
        ingest_router,
        customers_router,
        metrics_router,
        models_router,
        segments_router,
        offers_router,
        audit_router,
        engage_router,
        surveys_router,
        voice_cases_router,
        playbooks_router,
        playbooks_pages,
        uplift_router,
    ):
        app.include_router(router)
    document_errors(app)  # every route lists the error statuses its dependencies can raise
    mount_web(app)
    app.add_middleware(BodyLimit, limit=settings.service.max_request_bytes)  # type: ignore[arg-type]
    app.add_middleware(ErrorBoundary)  # type: ignore[arg-type]
    app.add_middleware(LanguageAndHeaders)  # type: ignore[arg-type]

    @app.get("/healthz", include_in_schema=False, response_model=Health)
    def healthz() -> Health:
        """Liveness probe (load balancers, the test servers wait on it)."""
        return Health()

    if serving:
        prepare_process()
    return app


GC_THRESHOLDS = (50_000, 20, 10)
"""The collector's thresholds while serving (Python's defaults: 700, 10, 10).

With the default 700, a young collection ran every few hundred allocations, several times
inside one request, so the objects of the requests in flight were promoted to older
generations and fed full collections, each stopping every thread (the event loop too): in the
mixed-read benchmark's server, 14 full collections in 37 s of 200 requests/s (46 ms of CPU each,
100-260 ms of wall time on a busy machine; the event loop's longest stalls were those), and
1.7 s of CPU in collections in all. At 50,000 a request's objects are freed by reference
counting before a young collection sees them: in the same run 2 young collections and no full
one, 34 ms of CPU (#16 item 18)."""


def prepare_process() -> None:
    """Tune this process's garbage collector for serving; call once, before serving.

    Exempts what exists now (the libraries, the app) from every later collection
    (:func:`gc.freeze`: each full collection walked every object of FastAPI, pydantic, Ibis,
    pandas and DuckDB's modules while holding the GIL) and sets :data:`GC_THRESHOLDS`. Objects
    made later (requests, caches) are collected as before, only less often.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("retain")
    except PackageNotFoundError:
        return "0"
