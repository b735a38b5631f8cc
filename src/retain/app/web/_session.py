"""Who is looking at a page: the login cookie, page language, and the HTML error pages."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from retain.app.auth import service as auth
from retain.app.auth.roles import Permission
from retain.app.deps import LANG_COOKIE, SESSION_COOKIE, Principal, SessionDep
from retain.app.web._render import environment
from retain.errors import PermissionDeniedError
from retain.i18n import LANGUAGES, get_language, t

__all__ = [
    "LOGIN_CSRF_COOKIE",
    "LoginRequired",
    "PageDenied",
    "PageElsewhere",
    "PageUser",
    "check_csrf",
    "csrf_serializer",
    "forbidden",
    "page_user",
    "render",
    "require_page",
    "set_cookie",
]

LOGIN_CSRF_COOKIE = "retain_login_csrf"


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is logged in; becomes a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def csrf_serializer(request: Request) -> URLSafeTimedSerializer:
    """Signs the login form's CSRF token with the service secret."""
    secret = getattr(request.app.state, "cookie_secret", None)
    if secret is None:
        with request.app.state.sessionmaker() as session:
            secret = auth.service_secret(session, request.app.state.settings.service.secret_key)
        request.app.state.cookie_secret = secret
    return URLSafeTimedSerializer(secret, salt="retain-login-csrf")


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    http_only: bool = True,
) -> None:
    """A cookie with SameSite=Lax, HttpOnly, and Secure whenever the request came over HTTPS."""
    secure = request.url.scheme == "https"
    response.set_cookie(
        name, value, max_age=max_age, httponly=http_only, samesite="lax", secure=secure, path="/"
    )


def page_user(request: Request, session: SessionDep) -> Principal:
    """The logged-in user (cookie session) or :class:`LoginRequired`."""
    token = request.cookies.get(SESSION_COOKIE)
    found = auth.lookup_session(session, token) if token else None
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    login, user = found
    principal = Principal("user", user.id, user.email, user.role, login.csrf_token, user.language)
    request.state.principal = principal
    return principal


PageUser = Annotated[Principal, Depends(page_user)]


def forbidden(principal: Principal) -> PermissionDeniedError:
    """The error a page shows to a role that may not see it (the 403 page)."""
    return PermissionDeniedError(t("web.forbidden_page", role=principal.role))


class PageDenied(Exception):
    """Raised by :func:`require_page` for a role without the page's permission: the 403 page."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.error = forbidden(principal)
        super().__init__(self.error.message)


class PageElsewhere(Exception):
    """Raised by :func:`require_page` to send a role without the permission to another page."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def check_csrf(principal: Principal, token: str) -> None:
    """Refuse a dashboard form whose CSRF token is not the login session's (403)."""
    if not principal.csrf_token or token != principal.csrf_token:
        raise PermissionDeniedError(t("web.csrf_expired"), code="auth.csrf_failed")


def require_page(
    permission: Permission, *, elsewhere: Callable[[Principal], str] | None = None
) -> Callable[..., Principal]:
    """A page dependency: the logged-in user, if their role holds ``permission``.

    Nobody logged in: a redirect to the login page (:class:`LoginRequired`). A role without
    ``permission``: the 403 page (:class:`PageDenied`), or a 303 redirect to
    ``elsewhere(principal)`` when given. The page's permission is then part of its signature,
    where the route table shows it (``tests/app/test_routes_contract.py``).
    """

    def check(principal: PageUser) -> Principal:
        if not principal.may(permission):
            if elsewhere is not None:
                raise PageElsewhere(elsewhere(principal))
            raise PageDenied(principal)
        return principal

    check.permission = permission  # type: ignore[attr-defined]
    check.__name__ = f"require_page_{permission.name}"
    return check


def _nav(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None:
        return []
    items = []
    if principal.may(Permission.metrics_read):
        items += [("/", "web.nav_overview"), ("/retention", "web.nav_retention")]
    if principal.may(Permission.at_risk_read):
        items.append(("/at-risk", "web.nav_at_risk"))
    if principal.may(Permission.models_read):
        items.append(("/models", "web.nav_models"))
    if principal.may(Permission.metrics_read):
        items.append(("/engage/outbox", "engage_outbox.nav"))
    if principal.may(Permission.users_manage):
        items.append(("/admin/users", "web.nav_admin"))
    items.append(("/docs", "web.nav_api"))
    return items


def render(
    request: Request,
    template: str,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page in the request's language; remembers a ``?lang=`` choice in a cookie."""
    lang = get_language()
    query = {k: v for k, v in request.query_params.multi_items() if k != "lang"}
    context.update(
        request=request,
        principal=principal,
        nav=_nav(principal),
        lang=lang,
        path=request.url.path,
        query=query,
        title=t(context.get("title_key", "web.app_name")),
    )
    html = environment().get_template(template).render(**context)
    response = HTMLResponse(html, status_code=status_code)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
        set_cookie(request, response, LANG_COOKIE, chosen, max_age=365 * 86400, http_only=False)
    return response


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    """Send a visitor to the login page, coming back afterwards."""
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(exc.next_url, safe='')}", status_code=303)


def new_login_token() -> str:
    """Random material for the login form's CSRF token."""
    return secrets.token_urlsafe(16)


def check_login_token(request: Request, form_token: str) -> bool:
    """The login form's token matches its cookie and carries our signature (valid for 2 hours)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not form_token or not secrets.compare_digest(cookie, form_token):
        return False
    try:
        csrf_serializer(request).loads(form_token, max_age=7200)
    except BadSignature:
        return False
    return True
