"""What the app was built with, per request: its settings and an app-database session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from retain.config import Settings

__all__ = ["SessionDep", "SettingsDep", "get_session", "get_settings_dep"]

# The cheap dependencies are coroutines: FastAPI runs a plain function in a worker thread, and
# each such hop costs a request about 0.2-0.3 ms of CPU (on the busiest routes, half the cost).


async def get_settings_dep(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """An app-database session for one request; rolled back if the route fails.

    Made on the event loop (a session connects only when first used); closed there too when
    it holds no transaction (nothing to roll back: no database call), else in a worker thread.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except Exception:
        await anyio.to_thread.run_sync(session.rollback)
        raise
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
