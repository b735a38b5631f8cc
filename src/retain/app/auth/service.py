"""Users, passwords, API keys and login sessions.

Passwords are stored as argon2id hashes (argon2-cffi defaults). API keys and session tokens are
256-bit random strings; only their SHA-256 digests are stored, so a copy of the database gives
no way in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retain.app.audit import service as audit
from retain.app.audit.service import Actor, Caller
from retain.app.auth import keycache, throttle
from retain.app.auth.models import ApiKey, AppSecret, LoginSession, User
from retain.app.auth.roles import Role
from retain.app.db.base import utcnow
from retain.app.errors import NotAuthenticatedError
from retain.errors import ConflictError, InvalidParameterError, NotFoundError, PermissionDeniedError
from retain.i18n import t

__all__ = [
    "EMAIL_PATTERN",
    "authenticate",
    "change_own_password",
    "count_users",
    "create_api_key",
    "create_user",
    "digest",
    "end_session",
    "ensure_user",
    "get_user",
    "list_api_keys",
    "list_users",
    "log_in",
    "log_out",
    "lookup_api_key",
    "lookup_session",
    "revoke_api_key",
    "service_secret",
    "start_session",
    "update_user",
]

MIN_PASSWORD = 8
SESSION_DAYS = 7
_hasher = PasswordHasher()
_ADDRESS_CHAR = r"[^@\s\x00-\x1f\x7f-\x9f\ufeff]"
EMAIL_PATTERN = rf"^{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+$"
"""An e-mail address: no spaces or control characters, one ``@``, a dot in the domain.

Written so Python, JSON Schema (ECMA) and pydantic regexes read it alike (their whitespace
classes differ on control characters and U+FEFF, so those are named); the API schema declares
it.
"""
_EMAIL = re.compile(EMAIL_PATTERN)


def digest(token: str) -> str:
    """SHA-256 hex digest of a high-entropy token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidParameterError(
            t("app.unknown_role", role=role), hint=t("app.roles_hint"), code="auth.unknown_role"
        ) from None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidParameterError(
            t("app.password_short", n=MIN_PASSWORD),
            hint=t("app.password_hint"),
            code="auth.weak_password",
        )


def get_user(session: Session, *, user_id: int) -> User:
    """The user with ``user_id`` or :class:`NotFoundError`."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(t("app.user_not_found", id=user_id), code="auth.user_not_found")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, oldest first."""
    return list(session.scalars(select(User).order_by(User.id)))


def create_user(
    session: Session,
    *,
    email: str,
    role: str,
    password: str,
    name: str = "",
    language: str | None = None,
    actor: Actor | None = None,
) -> User:
    """Add a user. Emails are unique, case-insensitively.

    With ``actor`` the addition is audited and committed; without (the CLI, the demo), the
    caller commits.
    """
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidParameterError(t("app.bad_email", email=email), code="auth.bad_email")
    _check_role(role)
    _check_password(password)
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise ConflictError(
            t("app.user_exists", email=email),
            hint=t("app.user_exists_hint"),
            code="auth.user_exists",
        )
    user = User(
        email=email, role=role, password_hash=_hasher.hash(password), name=name, language=language
    )
    session.add(user)
    session.flush()
    if actor is not None:
        audit.record(session, actor, "user.create", ("user", user.id), role=user.role)
    return user


def ensure_user(
    session: Session,
    *,
    email: str,
    role: str,
    password: str,
    name: str = "",
    language: str | None = None,
    exist_ok: bool = False,
    actor: Actor | None = None,
) -> User:
    """Create a login: the one way the CLI and the demo add a user.

    With ``exist_ok`` an existing user with this e-mail keeps their role but gets ``password``
    and is made active again (``retain demo`` resets its demo login this way); without it, an
    existing e-mail is a :class:`ConflictError` (``retain user add``). With ``actor`` the change
    is audited and committed; without, the caller commits.
    """
    if exist_ok:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is not None:
            update_user(session, user=user, password=password, active=True, actor=actor)
            return user
    return create_user(
        session,
        email=email,
        role=role,
        password=password,
        name=name,
        language=language,
        actor=actor,
    )


def count_users(session: Session) -> int:
    """How many users exist (``retain serve`` says how to add the first one when none)."""
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def update_user(
    session: Session,
    *,
    user: User,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    name: str | None = None,
    language: str | None = None,
    actor: Actor | None = None,
    keep_login: str | None = None,
) -> list[str]:
    """Change a user; returns the names of the fields changed (never their secret values).

    A new password ends every login session of the user (whoever knew the old one is logged
    out), except the one whose cookie token is ``keep_login``: a user changing their own
    password in the dashboard stays logged in there. With ``actor`` a change is audited (the
    fields, and the new role) and committed.
    """
    changed: list[str] = []
    if role is not None and role != user.role:
        user.role = _check_role(role).value
        changed.append("role")
    if active is not None and active != user.active:
        user.active = active
        changed.append("active")
        if not active:
            for login in session.scalars(
                select(LoginSession).where(LoginSession.user_id == user.id)
            ):
                session.delete(login)
            keycache.forget_all()  # the service's cached keys of this user must stop working now
    if password is not None:
        _check_password(password)
        user.password_hash = _hasher.hash(password)
        changed.append("password")
        _end_sessions(session, user_id=user.id, keep_login=keep_login)
    if name is not None and name != user.name:
        user.name = name
        changed.append("name")
    if language is not None and language != user.language:
        user.language = language
        changed.append("language")
    if actor is not None and changed:
        role_now = {"role": user.role} if "role" in changed else {}
        audit.record(session, actor, "user.update", ("user", user.id), fields=changed, **role_now)
    return changed


def _end_sessions(session: Session, *, user_id: int, keep_login: str | None) -> None:
    """Delete the user's login sessions, all but the one with cookie token ``keep_login``."""
    kept = digest(keep_login) if keep_login else None
    for login in session.scalars(select(LoginSession).where(LoginSession.user_id == user_id)):
        if login.token_hash != kept:
            session.delete(login)


def authenticate(session: Session, *, email: str, password: str) -> User:
    """The active user with these credentials, or :class:`NotAuthenticatedError`.

    The same message for an unknown e-mail and a wrong password, so it reveals nothing.
    """
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    failed = NotAuthenticatedError(t("app.login_failed"), code="auth.login_failed")
    if user is None or not user.active:
        _hasher.hash(password)  # same cost as a real check: no timing oracle
        raise failed
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise failed from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return user


def change_own_password(
    session: Session, *, user: User, current: str, new: str, keep_login: str | None
) -> None:
    """A user sets a new password, proving the current one (audited, committed).

    Every other login session of the user ends; the one whose token is ``keep_login`` (the
    browser making the change) stays.
    """
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise PermissionDeniedError(t("app.password_wrong"), code="auth.password_wrong") from None
    update_user(session, user=user, password=new, keep_login=keep_login, actor=Caller(user.email))


def create_api_key(
    session: Session, *, name: str, role: str, created_by: str, actor: Actor | None = None
) -> tuple[ApiKey, str]:
    """A new key: the stored row and the key itself (shown once, never stored).

    With ``actor`` the new key is audited (its name and role) and committed.
    """
    _check_role(role)
    if not name.strip():
        raise InvalidParameterError(t("app.key_name_required"), code="auth.key_name_required")
    prefix = secrets.token_hex(4)
    raw = f"rk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name.strip(), role=role, prefix=prefix, key_hash=digest(raw), created_by=created_by
    )
    session.add(key)
    session.flush()
    if actor is not None:
        audit.record(
            session, actor, "key.create", ("api_key", key.id), name=key.name, role=key.role
        )
    return key, raw


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key (revoked ones included), newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def revoke_api_key(session: Session, *, key_id: int, actor: Actor | None = None) -> ApiKey:
    """Mark a key revoked; later calls with it get 401. With ``actor``: audited and committed."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError(t("app.key_not_found", id=key_id), code="auth.key_not_found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    keycache.forget_all()  # the service's cached keys: this one must stop working now
    if actor is not None:
        audit.record(session, actor, "key.revoke", ("api_key", key.id), name=key.name)
        # after the commit: a lookup that read the key before it cannot cache it any more (its
        # put sees a newer generation), and one after it reads the key revoked
        keycache.forget_all()
    return key


def lookup_api_key(session: Session, raw: str) -> ApiKey | None:
    """The live key matching ``raw``, or None."""
    parts = raw.split("_")
    if len(parts) < 3 or parts[0] != "rk":
        return None
    wanted = digest(raw)
    for key in session.scalars(select(ApiKey).where(ApiKey.prefix == parts[1])):
        if key.revoked_at is None and hmac.compare_digest(key.key_hash, wanted):
            return None if _owner_deactivated(session, key) else key
    return None


def _owner_deactivated(session: Session, key: ApiKey) -> bool:
    """Whether the key was made by a user who has since been deactivated.

    A key acts for the person who made it: when they leave (their account is deactivated), their
    keys stop working with their dashboard login. Keys made outside a login (``created_by`` is not
    a user's e-mail, e.g. from the command line) are unaffected.
    """
    owner = session.scalar(select(User).where(User.email == key.created_by))
    return owner is not None and not owner.active


def start_session(session: Session, *, user: User) -> tuple[str, LoginSession]:
    """A new login for ``user``: the cookie token and the stored row (with its CSRF token)."""
    token = secrets.token_urlsafe(32)
    login = LoginSession(
        token_hash=digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(24),
        expires_at=utcnow() + dt.timedelta(days=SESSION_DAYS),
    )
    session.add(login)
    session.flush()
    return token, login


def lookup_session(session: Session, token: str) -> tuple[LoginSession, User] | None:
    """The live login and its active user for a cookie token, or None."""
    login = session.scalar(select(LoginSession).where(LoginSession.token_hash == digest(token)))
    if login is None or login.expires_at < utcnow():
        return None
    user = session.get(User, login.user_id)
    if user is None or not user.active:
        return None
    return login, user


def end_session(session: Session, *, token: str) -> None:
    """Forget a login (logout)."""
    login = session.scalar(select(LoginSession).where(LoginSession.token_hash == digest(token)))
    if login is not None:
        session.delete(login)


def log_in(
    session: Session,
    *,
    email: str,
    password: str,
    address: str | None = None,
    limits: throttle.ThrottleLimits | None = None,
) -> tuple[str, User]:
    """Check the credentials and start a login: the cookie token and the user.

    Throttled first (:mod:`retain.app.auth.throttle`): an e-mail or client ``address`` that
    used up its failed logins gets :class:`~retain.app.auth.throttle.LoginThrottledError`
    without its password being checked. Both outcomes are audited and committed: ``login`` by
    the user, or ``login.failed`` (then :class:`NotAuthenticatedError`, saying nothing about
    which part was wrong). A failed login names its actor only when the e-mail is a known
    user's; otherwise the entry's actor is ``-``, so whatever was typed (often a password in
    the wrong field) is never stored.
    """
    limits = limits or throttle.ThrottleLimits()
    keys = throttle.keys_for(session, email=email, address=address, limits=limits)
    throttle.check(session, keys, limits)
    try:
        user = authenticate(session, email=email, password=password)
    except NotAuthenticatedError:
        known = session.scalar(select(User).where(User.email == email.strip().lower()))
        throttle.note_failure(session, keys, limits)
        audit.record(session, Caller(known.email if known else "-"), "login.failed")
        raise
    throttle.clear(session, keys[:1])
    token, _ = start_session(session, user=user)
    audit.record(session, Caller(user.email), "login", ("user", user.id))
    return token, user


def log_out(session: Session, *, token: str, actor: Actor, user_id: int) -> None:
    """End the login with cookie ``token`` (logout), audited and committed."""
    end_session(session, token=token)
    audit.record(session, actor, "logout", ("user", user_id))


def service_secret(session: Session, configured: str) -> str:
    """The cookie-signing secret: the configured one, else one generated once and kept in the DB."""
    if configured:
        return configured
    row = session.get(AppSecret, "cookie_secret")
    if row is None:
        row = AppSecret(name="cookie_secret", value=secrets.token_urlsafe(48))
        session.add(row)
        session.commit()
    return row.value
