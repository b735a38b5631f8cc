"""The declarative base of the app database (SQLAlchemy 2), shared by the service and engage.

It lives in the base layer so that ``retain.engage`` (below the app) can define its outbox tables
on the same metadata the app's Alembic migrations compare against; ``retain.app.db.base``
re-exports it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase

__all__ = ["Base", "utcnow"]

# Named constraints so Alembic migrations are stable on SQLite and PostgreSQL alike.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Now as a naive UTC timestamp (the convention of retain's stores)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of the app database (users, keys, sessions, audit log, segments, outbox)."""

    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: DateTime(timezone=False)}
