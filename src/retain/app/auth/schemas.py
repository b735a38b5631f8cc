"""Request and response bodies of the users, keys and settings endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from retain.app._openapi import UtcDateTime
from retain.app.auth.roles import Role
from retain.config import Settings

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "ApiKeysPublic",
    "MePublic",
    "SettingsPublic",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "UsersPublic",
]


class UserCreate(BaseModel):
    """A new dashboard user."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(
        max_length=320,
        description="An e-mail address (stored lower-case): no spaces or control characters, "
        "one @, a dot in the domain; anything else is a 422 auth.bad_email",
    )
    role: Role
    password: str = Field(min_length=8, max_length=1000)
    name: str = Field("", max_length=200)
    language: str | None = Field(None, pattern="^(en|ja|ko)$")


class UserUpdate(BaseModel):
    """Fields an admin may change; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=1000)
    name: str | None = Field(None, max_length=200)
    language: str | None = Field(None, pattern="^(en|ja|ko)$")


class UserPublic(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    language: str | None
    active: bool
    created_at: UtcDateTime
    last_login_at: UtcDateTime | None


class UsersPublic(BaseModel):
    """All users."""

    data: list[UserPublic]
    count: int


class ApiKeyCreate(BaseModel):
    """A new API key for a machine."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role


class ApiKeyPublic(BaseModel):
    """A key as listed (its secret is never shown again)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    prefix: str
    created_by: str
    created_at: UtcDateTime
    revoked_at: UtcDateTime | None


class ApiKeyCreated(ApiKeyPublic):
    """A key just created: ``key`` is shown this once."""

    key: str


class ApiKeysPublic(BaseModel):
    """All keys."""

    data: list[ApiKeyPublic]
    count: int


class MePublic(BaseModel):
    """The caller."""

    kind: str
    name: str
    role: str
    permissions: list[str]


def _settings_public() -> type[BaseModel]:
    """Settings' fields as a plain response model (no environment reading), kept in step."""
    fields: dict[str, Any] = {
        name: (info.annotation, Field(description=info.description))
        for name, info in Settings.model_fields.items()
    }
    model: type[BaseModel] = create_model("SettingsPublic", **fields)
    model.__doc__ = "The service's settings, with the secret key and database passwords masked."
    return model


SettingsPublic = _settings_public()
"""``GET /api/v1/settings``: every setting, secrets masked as ``***``."""
