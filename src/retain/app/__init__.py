"""The retain service: a FastAPI app with an app database, roles, an audit log and a dashboard.

Build it with :func:`create_app` (nothing is built at import time); ``retain serve`` applies the
app database's migrations and runs it under Uvicorn.

This package's names are the app's one door for the CLI (the import-linter contract "cli reaches
the app only through retain.app" in pyproject.toml): ``create_app`` to serve, ``upgrade``,
``make_engine`` and ``make_sessionmaker`` to open the app database, ``ensure_user`` to add a login.
They are imported on first use, so importing the CLI does not import FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retain.app.auth.service import ensure_user
    from retain.app.db import make_engine, make_sessionmaker, upgrade
    from retain.app.main import create_app

__all__ = ["create_app", "ensure_user", "make_engine", "make_sessionmaker", "upgrade"]

_HOMES = {
    "create_app": "retain.app.main",
    "ensure_user": "retain.app.auth.service",
    "make_engine": "retain.app.db",
    "make_sessionmaker": "retain.app.db",
    "upgrade": "retain.app.db",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(home), name)
