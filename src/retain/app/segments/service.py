"""Saved segments: create, find, change, delete (the caller commits and audits)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retain.app.segments.models import SavedSegment
from retain.errors import ConflictError, NotFoundError
from retain.i18n import t

__all__ = ["create", "delete", "get", "get_by_name_or_id", "list_all", "update"]


def list_all(session: Session) -> list[SavedSegment]:
    """Every segment, by name."""
    return list(session.scalars(select(SavedSegment).order_by(SavedSegment.name)))


def get(session: Session, *, segment_id: int) -> SavedSegment:
    """The segment with ``segment_id`` or 404."""
    segment = session.get(SavedSegment, segment_id)
    if segment is None:
        raise NotFoundError(
            t("app.segment_not_found", ref=segment_id),
            hint=t("app.segment_not_found_hint"),
            code="segments.not_found",
        )
    return segment


def get_by_name_or_id(session: Session, *, ref: str) -> SavedSegment:
    """The segment named ``ref`` (or with that numeric id) or 404."""
    segment = session.scalar(select(SavedSegment).where(SavedSegment.name == ref))
    if segment is None and ref.isdigit() and len(ref) < 18:
        segment = session.get(SavedSegment, int(ref))
    if segment is None:
        raise NotFoundError(
            t("app.segment_not_found", ref=ref),
            hint=t("app.segment_not_found_hint"),
            code="segments.not_found",
        )
    return segment


def _unique(session: Session, name: str, *, except_id: int | None = None) -> None:
    other = session.scalar(select(SavedSegment).where(SavedSegment.name == name))
    if other is not None and other.id != except_id:
        raise ConflictError(t("app.segment_exists", name=name), code="segments.exists")


def create(
    session: Session, *, name: str, description: str, filters: dict[str, Any], created_by: str
) -> SavedSegment:
    """Add a segment; names are unique."""
    _unique(session, name)
    segment = SavedSegment(
        name=name,
        description=description,
        filters=json.dumps(filters, sort_keys=True),
        created_by=created_by,
    )
    session.add(segment)
    session.flush()
    return segment


def update(
    session: Session,
    *,
    segment: SavedSegment,
    name: str | None,
    description: str | None,
    filters: dict[str, Any] | None,
) -> list[str]:
    """Change a segment; returns the fields changed."""
    changed = []
    if name is not None and name != segment.name:
        _unique(session, name, except_id=segment.id)
        segment.name = name
        changed.append("name")
    if description is not None and description != segment.description:
        segment.description = description
        changed.append("description")
    if filters is not None:
        text = json.dumps(filters, sort_keys=True)
        if text != segment.filters:
            segment.filters = text
            changed.append("filters")
    session.flush()
    return changed


def delete(session: Session, *, segment: SavedSegment) -> None:
    """Remove a segment."""
    session.delete(segment)
