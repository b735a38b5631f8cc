"""Users, API keys, the caller and the (non-secret) settings: admin work, all audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from retain.app._openapi import document_errors
from retain.app.auth import service
from retain.app.auth.roles import PERMISSIONS
from retain.app.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ApiKeysPublic,
    MePublic,
    SettingsPublic,
    UserCreate,
    UserPublic,
    UsersPublic,
    UserUpdate,
)
from retain.app.deps import (
    AdminOnly,
    CanManageKeys,
    CanReadSettings,
    CurrentUser,
    IdPath,
    SessionDep,
    SettingsDep,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/me", response_model=MePublic)
def read_me(principal: CurrentUser) -> MePublic:
    """Who the caller is and what their role allows."""
    perms = sorted(p.value for p, roles in PERMISSIONS.items() if principal.role in roles)
    return MePublic(
        kind=principal.kind, name=principal.name, role=principal.role, permissions=perms
    )


@router.get("/users", response_model=UsersPublic)
def list_users(_: AdminOnly, session: SessionDep) -> UsersPublic:
    """Every dashboard user."""
    users = service.list_users(session)
    return UsersPublic(data=[UserPublic.model_validate(u) for u in users], count=len(users))


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, admin: AdminOnly, session: SessionDep) -> UserPublic:
    """Add a user; the password is stored as an argon2 hash, the audit log says who added whom."""
    user = service.create_user(
        session,
        email=body.email,
        role=body.role.value,
        password=body.password,
        name=body.name,
        language=body.language,
        actor=admin,
    )
    return UserPublic.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(
    user_id: IdPath, body: UserUpdate, admin: AdminOnly, session: SessionDep
) -> UserPublic:
    """Change a user's role, name, language, password or whether they may log in."""
    user = service.get_user(session, user_id=user_id)
    service.update_user(
        session,
        user=user,
        role=body.role.value if body.role else None,
        active=body.active,
        password=body.password,
        name=body.name,
        language=body.language,
        actor=admin,
    )
    return UserPublic.model_validate(user)


@router.get("/keys", response_model=ApiKeysPublic)
def list_keys(_: CanManageKeys, session: SessionDep) -> ApiKeysPublic:
    """Every API key, revoked ones included (secrets are never shown again)."""
    keys = service.list_api_keys(session)
    return ApiKeysPublic(data=[ApiKeyPublic.model_validate(k) for k in keys], count=len(keys))


@router.post("/keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, admin: CanManageKeys, session: SessionDep) -> ApiKeyCreated:
    """Create a key for a machine; the response carries the key, shown this once."""
    key, raw = service.create_api_key(
        session, name=body.name, role=body.role.value, created_by=admin.name, actor=admin
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=raw)


@router.delete("/keys/{key_id}", response_model=ApiKeyPublic)
def revoke_key(key_id: IdPath, admin: CanManageKeys, session: SessionDep) -> ApiKeyPublic:
    """Revoke a key: calls that use it get 401 from now on."""
    key = service.revoke_api_key(session, key_id=key_id, actor=admin)
    return ApiKeyPublic.model_validate(key)


def _mask_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


_SECRETS = (
    ("", "smtp_password"),
    ("engage", "signing_secret"),
    ("engage", "webhook_secret"),
    ("sms", "auth_value"),
    ("sms", "inbound_secret"),
)
"""Settings that are secrets (``section``, ``key``; top level: no section)."""


@router.get("/settings", response_model=SettingsPublic)
def read_settings(_: CanReadSettings, settings: SettingsDep) -> dict[str, Any]:
    """The service's settings, with secrets and database passwords masked."""
    data = settings.model_dump(mode="json")
    data["service"]["secret_key"] = "***" if settings.service.secret_key else ""
    for section, key in _SECRETS:  # credentials of the SMTP server, SMS gateway, webhooks
        table = data[section] if section else data
        table[key] = "***" if table.get(key) else ""
    data["warehouse_url"] = _mask_url(settings.warehouse_url)
    data["database_url"] = _mask_url(settings.database_url)
    return data


document_errors(router)
