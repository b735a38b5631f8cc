"""Users, API keys, login sessions and the service's generated secret."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from retain.app.db.base import Base, utcnow

__all__ = ["ApiKey", "AppSecret", "LoginFailures", "LoginSession", "User"]


class User(Base):
    """A person who logs in to the dashboard. The password is stored as an argon2 hash only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(5), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    """A key for machines. Only a SHA-256 digest of the key is stored; ``prefix`` finds it.

    API keys carry 256 bits of randomness, so a fast digest is safe (a slow password hash
    would cost every API call tens of milliseconds).
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class LoginSession(Base):
    """A dashboard login. The cookie holds a random token; the table holds its SHA-256 digest."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class AppSecret(Base):
    """Secrets the service generates for itself (the cookie-signing key when none is configured)."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LoginFailures(Base):
    """Failed logins counted for one throttle key (an e-mail or a client address) in a window.

    ``key_hash`` is a keyed digest (HMAC with a generated secret), never the e-mail or address
    itself: a mistyped password in the e-mail field is not stored. Kept in the app database so
    every worker of ``retain serve`` (and every host sharing a PostgreSQL app database) counts
    the same failures.
    """

    __tablename__ = "login_failures"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[dt.datetime] = mapped_column(default=utcnow)
