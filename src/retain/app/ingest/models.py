"""Idempotency keys of API ingest requests: a replay returns the first answer unchanged."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from retain.app.db.base import Base, utcnow

__all__ = ["IdempotencyRecord"]


class IdempotencyRecord(Base):
    """The first answer to a request that carried an ``Idempotency-Key`` header.

    While the request runs, ``status_code`` is empty and ``owner`` / ``lease_expires_at`` say
    which process holds the key (:mod:`retain.app.ingest.lease`), so a retry after a crash can
    take it over.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor", "key", name="uq_idempotency_keys_actor_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(320))
    key: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(default=None)
    response: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
