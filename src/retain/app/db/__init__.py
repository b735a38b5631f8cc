"""The app database: SQLAlchemy 2 models and Alembic migrations shipped in the package.

``upgrade(url)`` brings a database to the newest schema; ``retain serve`` calls it at start, so a
new install and an upgrade are the same step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

from retain.app.db.base import Base, utcnow
from retain.app.db.session import WalCheckpointer, make_engine, make_sessionmaker, normalize_url

__all__ = [
    "Base",
    "WalCheckpointer",
    "alembic_config",
    "make_engine",
    "make_sessionmaker",
    "open_session",
    "upgrade",
    "utcnow",
]


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` that uses the migrations inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("retain.app.db") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the app database's migrations up to ``revision`` (default: the newest)."""
    import retain.app.db.models  # noqa: F401  (registers every table on Base.metadata)

    command.upgrade(alembic_config(url), revision)


@contextmanager
def open_session(url: str) -> Iterator[Session]:
    """A session on the app database at ``url``, migrated first; the engine is closed after.

    For one-off work outside the service (``retain user``, the demo's login).
    """
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()
