"""Log in and log out.

Both forms carry a CSRF token; failed logins say nothing about which part
was wrong, and too many of them get 429 with ``Retry-After`` (see
:mod:`retain.app.auth.throttle`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from retain.app.auth import service as auth
from retain.app.auth.throttle import LoginThrottledError, ThrottleLimits
from retain.app.deps import SESSION_COOKIE, SessionDep, SettingsDep
from retain.app.errors import NotAuthenticatedError
from retain.app.web._session import (
    LOGIN_CSRF_COOKIE,
    PageUser,
    check_login_token,
    csrf_serializer,
    new_login_token,
    render,
    set_cookie,
)
from retain.i18n import t

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect off-site after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request,
    *,
    next_url: str,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    token = csrf_serializer(request).dumps(new_login_token())
    response = render(
        request,
        "login.html",
        title_key="web.login_title",
        next_url=next_url,
        csrf=token,
        error=error,
        email=email,
        status_code=status_code,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=7200)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The login page (``?lang=`` works here too)."""
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the credentials, start a session, go where the user was heading."""
    target = _safe_next(next)
    if not check_login_token(request, csrf):
        return _login_page(
            request, next_url=target, error=t("web.csrf_expired"), email=email, status_code=400
        )
    try:
        token, _ = auth.log_in(
            session,
            email=email,
            password=password,
            address=request.client.host if request.client else None,
            limits=ThrottleLimits.from_settings(settings.service),
        )
    except LoginThrottledError as exc:
        page = _login_page(
            request, next_url=target, error=exc.message, email=email, status_code=429
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except NotAuthenticatedError:
        return _login_page(
            request, next_url=target, error=t("app.login_failed"), email=email, status_code=401
        )
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=auth.SESSION_DAYS * 86400)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", response_model=None)
def logout(
    request: Request,
    principal: PageUser,
    session: SessionDep,
    csrf: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """End the session (the form must carry the session's CSRF token)."""
    if csrf != principal.csrf_token:
        return render(
            request,
            "error.html",
            principal=principal,
            status_code=403,
            title_key="web.error_title",
            message=t("web.csrf_expired"),
        )
    token = request.cookies.get(SESSION_COOKIE, "")
    auth.log_out(session, token=token, actor=principal, user_id=principal.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
