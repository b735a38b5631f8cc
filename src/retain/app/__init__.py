"""The retain service: a FastAPI app with an app database, roles, an audit log and a dashboard.

Build it with :func:`retain.app.main.create_app` (nothing is built at import time); ``retain serve``
applies the app database's migrations and runs it under Uvicorn.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from retain.app.main import create_app

        return create_app
    raise AttributeError(name)
