"""Saved segments: named filters over the at-risk list that analysts reuse."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from retain.app.db.base import Base, utcnow

__all__ = ["SavedSegment"]


class SavedSegment(Base):
    """A named filter (risk bands, CLV range, country, channel) stored as JSON text.

    Its owner (the user or API key that saved it) and admins may change or delete it; segments
    saved before owners were kept belong to the user whose e-mail is ``created_by``, if any.
    """

    __tablename__ = "saved_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    filters: Mapped[str] = mapped_column(Text, default="{}")
    created_by: Mapped[str] = mapped_column(String(320), default="")
    owner_kind: Mapped[str | None] = mapped_column(String(20), default=None)
    """``user`` or ``api_key``: who owns it (edits and deletes it besides admins); None: nobody."""
    owner_id: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
