"""The retain service: a FastAPI app with an app database, roles, an audit log and a dashboard.

Build it with :func:`create_app` (nothing is built at import time); ``retain serve`` applies the
app database's migrations and runs it under Uvicorn.

This package's names are the app's one door for the CLI (the import-linter contract "cli reaches
the app only through retain.app" in pyproject.toml): ``create_app`` to serve, ``open_session``
(or ``upgrade``, ``make_engine`` and ``make_sessionmaker``) to open the app database,
``ensure_user`` and ``count_users`` for logins, ``create_api_key``, ``list_api_keys`` and
``revoke_api_key`` for keys, ``list_segments``, ``find_segment`` and ``save_segment`` for saved
segments, ``service_secret`` for the key the service signs links with (``retain surveys
invite``), and ``Caller`` to name the CLI as the actor in the audit log. They
are imported on first use, so importing the CLI does not import FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retain.lazy import lazy_package

if TYPE_CHECKING:
    from retain.app.audit.service import Caller
    from retain.app.auth.service import (
        count_users,
        create_api_key,
        ensure_user,
        list_api_keys,
        list_users,
        revoke_api_key,
        service_secret,
    )
    from retain.app.db import make_engine, make_sessionmaker, open_session, upgrade
    from retain.app.main import create_app
    from retain.app.segments.store import find_segment, list_segments, save_segment

__all__ = [
    "Caller",
    "count_users",
    "create_api_key",
    "create_app",
    "ensure_user",
    "find_segment",
    "list_api_keys",
    "list_segments",
    "list_users",
    "make_engine",
    "make_sessionmaker",
    "open_session",
    "revoke_api_key",
    "save_segment",
    "service_secret",
    "upgrade",
]

_HOMES = {
    "Caller": "retain.app.audit.service",
    "count_users": "retain.app.auth.service",
    "create_api_key": "retain.app.auth.service",
    "create_app": "retain.app.main",
    "ensure_user": "retain.app.auth.service",
    "find_segment": "retain.app.segments.store",
    "list_api_keys": "retain.app.auth.service",
    "list_segments": "retain.app.segments.store",
    "list_users": "retain.app.auth.service",
    "make_engine": "retain.app.db",
    "make_sessionmaker": "retain.app.db",
    "open_session": "retain.app.db",
    "revoke_api_key": "retain.app.auth.service",
    "save_segment": "retain.app.segments.store",
    "service_secret": "retain.app.auth.service",
    "upgrade": "retain.app.db",
}


lazy_package(__name__, _HOMES)
