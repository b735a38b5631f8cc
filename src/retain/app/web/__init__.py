"""The dashboard: server-rendered pages (Jinja2), local static assets, login with CSRF."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_web"]


def mount_web(app: FastAPI) -> None:
    """Add the dashboard's pages and ``/static`` to ``app``."""
    from fastapi import Request
    from fastapi.responses import RedirectResponse, Response

    from retain.app.surveys import page as nps_page
    from retain.app.web import account, admin, cohort, customers, docs, models, overview, segments
    from retain.app.web import plan as plan_page
    from retain.app.web import savedesk as savedesk_page
    from retain.app.web import tickets as tickets_page
    from retain.app.web import voice as voice_page
    from retain.app.web._page import error_page
    from retain.app.web._session import LoginRequired, PageDenied, PageElsewhere, login_redirect
    from retain.app.web.auth_pages import router as auth_router

    async def _to_login(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return login_redirect(exc)

    async def _denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageDenied)
        return error_page(request, exc.principal, exc.error)

    async def _elsewhere(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageElsewhere)
        return RedirectResponse(exc.url, status_code=303)

    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(PageDenied, _denied)
    app.add_exception_handler(PageElsewhere, _elsewhere)

    app.include_router(auth_router)
    for pages in (overview, cohort, customers, segments, plan_page, models, admin, account, docs):
        app.include_router(pages.router)
    for pages in (tickets_page, savedesk_page):  # complaints and the save desk (#20)
        app.include_router(pages.router)
    app.include_router(voice_page.router)  # the reasons page (#20)
    app.include_router(nps_page.router)  # the NPS page (#20)
    static = resources.files("retain.app.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
