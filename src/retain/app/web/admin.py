"""Dashboard pages for admins: users, API keys and the audit log.

Every change goes through the same audited services as the API (``retain.app.auth.service``),
with the logged-in admin as the actor; every form carries the session's CSRF token. A new API key
is shown once, on the page that created it, and never again.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from retain.app.audit import service as audit
from retain.app.auth import service as auth
from retain.app.auth.roles import Permission, Role
from retain.app.deps import Principal, SessionDep
from retain.app.web._page import page as _page
from retain.app.web._session import check_csrf, render, require_page
from retain.errors import PermissionDeniedError
from retain.i18n import format_datetime, t

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Admin = Annotated[Principal, Depends(require_page(Permission.users_manage))]
KeyAdmin = Annotated[Principal, Depends(require_page(Permission.keys_manage))]
AuditReader = Annotated[Principal, Depends(require_page(Permission.audit_read))]
Csrf = Annotated[str, Form(max_length=500)]
AUDIT_PAGE = 50
"""Audit entries per page."""


def _roles() -> list[str]:
    return [r.value for r in Role]


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, principal: Admin, session: SessionDep) -> HTMLResponse:
    """Every user, with forms to add one and to deactivate or reactivate one."""

    def build() -> HTMLResponse:
        users = [
            {
                "id": u.id,
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "active": u.active,
                "last_login": format_datetime(u.last_login_at, tz="UTC") if u.last_login_at else "",
            }
            for u in auth.list_users(session)
        ]
        return render(
            request,
            "admin_users.html",
            principal=principal,
            title_key="web.admin_users",
            users=users,
            roles=_roles(),
        )

    return _page(request, principal, build)


@router.post("/admin/users", response_model=None)
def add_user(
    request: Request,
    principal: Admin,
    session: SessionDep,
    email: Annotated[str, Form(min_length=3, max_length=320)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=500)],
    csrf: Csrf = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Add a user (audited); back to the list."""

    def build() -> Any:
        check_csrf(principal, csrf)
        auth.create_user(
            session, email=email, role=role, password=password, name=name, actor=principal
        )
        return RedirectResponse("/admin/users", status_code=303)

    return _page(request, principal, build)


@router.post("/admin/users/{user_id}/active", response_model=None)
def set_active(
    request: Request,
    principal: Admin,
    session: SessionDep,
    user_id: Annotated[int, Path(ge=1, le=2**62)],
    active: Annotated[bool, Form()],
    csrf: Csrf = "",
) -> Response:
    """Deactivate a user (their logins end) or reactivate them (audited)."""

    def build() -> Any:
        check_csrf(principal, csrf)
        if user_id == principal.id and principal.kind == "user" and not active:
            raise PermissionDeniedError(t("web.admin_not_yourself"), code="auth.self_deactivate")
        user = auth.get_user(session, user_id=user_id)
        auth.update_user(session, user=user, active=active, actor=principal)
        return RedirectResponse("/admin/users", status_code=303)

    return _page(request, principal, build)


def _keys_page(
    request: Request, principal: Principal, session: SessionDep, new_key: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "admin_keys.html",
        principal=principal,
        title_key="web.admin_keys",
        keys=[
            {
                "id": k.id,
                "name": k.name,
                "prefix": f"rk_{k.prefix}_…",
                "role": k.role,
                "created_by": k.created_by,
                "created": format_datetime(k.created_at, tz="UTC"),
                "revoked": format_datetime(k.revoked_at, tz="UTC") if k.revoked_at else "",
            }
            for k in auth.list_api_keys(session)
        ],
        roles=_roles(),
        new_key=new_key,
    )


@router.get("/admin/keys", response_class=HTMLResponse)
def keys_page(request: Request, principal: KeyAdmin, session: SessionDep) -> HTMLResponse:
    """Every API key (never the key itself), with forms to create and revoke."""
    return _page(request, principal, lambda: _keys_page(request, principal, session))


@router.post("/admin/keys", response_class=HTMLResponse)
def add_key(
    request: Request,
    principal: KeyAdmin,
    session: SessionDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    csrf: Csrf = "",
) -> HTMLResponse:
    """Create a key (audited) and show it this once."""

    def build() -> HTMLResponse:
        check_csrf(principal, csrf)
        _, raw = auth.create_api_key(
            session, name=name, role=role, created_by=principal.name, actor=principal
        )
        return _keys_page(request, principal, session, new_key=raw)

    return _page(request, principal, build)


@router.post("/admin/keys/{key_id}/revoke", response_model=None)
def revoke_key(
    request: Request,
    principal: KeyAdmin,
    session: SessionDep,
    key_id: Annotated[int, Path(ge=1, le=2**62)],
    csrf: Csrf = "",
) -> Response:
    """Revoke a key (audited): calls with it get 401 from now on."""

    def build() -> Any:
        check_csrf(principal, csrf)
        auth.revoke_api_key(session, key_id=key_id, actor=principal)
        return RedirectResponse("/admin/keys", status_code=303)

    return _page(request, principal, build)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    principal: AuditReader,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=100)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> HTMLResponse:
    """The audit log, newest first, optionally one action, paged by id."""

    def build() -> HTMLResponse:
        rows, total = audit.list_entries(
            session, action=action or None, before_id=before, limit=AUDIT_PAGE
        )
        entries = [
            {
                "id": r.id,
                "at": format_datetime(r.at, tz="UTC"),
                "actor": r.actor,
                "actor_kind": r.actor_kind,
                "action": r.action,
                "target": f"{r.target_type} {r.target_id}".strip(),
                "details": json.loads(r.details or "{}"),
            }
            for r in rows
        ]
        older = entries[-1]["id"] if len(entries) == AUDIT_PAGE else None
        return render(
            request,
            "admin_audit.html",
            principal=principal,
            title_key="web.admin_audit",
            entries=entries,
            total=total,
            action=action or "",
            older=older,
        )

    return _page(request, principal, build)
