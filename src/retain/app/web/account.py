"""The logged-in user's own account: change the password (every other login of theirs ends)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from retain.app.auth import service as auth
from retain.app.deps import SESSION_COOKIE, SessionDep
from retain.app.web._page import page as _page
from retain.app.web._session import PageUser, check_csrf, render
from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, principal: PageUser) -> HTMLResponse:
    """The password form (any logged-in user, whatever the role)."""
    return render(request, "account.html", principal=principal, title_key="web.account")


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    principal: PageUser,
    session: SessionDep,
    current: Annotated[str, Form(max_length=500)],
    new: Annotated[str, Form(max_length=500)],
    repeat: Annotated[str, Form(max_length=500)],
    csrf: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    """Set a new password after proving the current one; this browser stays logged in."""

    def build() -> HTMLResponse:
        check_csrf(principal, csrf)
        if new != repeat:
            raise InvalidParameterError(t("web.account_mismatch"), code="auth.password_mismatch")
        user = auth.get_user(session, user_id=principal.id)
        auth.change_own_password(
            session,
            user=user,
            current=current,
            new=new,
            keep_login=request.cookies.get(SESSION_COOKIE),
        )
        return render(
            request, "account.html", principal=principal, title_key="web.account", changed=True
        )

    return _page(request, principal, build)
