"""Saved segments: create, find, change, delete; each change is audited and committed here.

A segment belongs to the user or API key that saved it: only its owner or an admin may change
or delete it (others get :class:`~retain.errors.PermissionDeniedError`, 403); everyone who may
read segments reads them all.

A segment stores the filter part of an :class:`~retain.targeting.AtRiskQuery` as the JSON of
its dict form (``query.filters().to_dict()``), the same keys segments always stored, so those
saved before read unchanged.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from retain.app.audit import service as audit
from retain.app.segments.models import SavedSegment
from retain.errors import ConflictError, NotFoundError, PermissionDeniedError
from retain.i18n import t
from retain.targeting import AtRiskQuery

__all__ = [
    "Editor",
    "create",
    "delete",
    "get",
    "get_by_name_or_id",
    "list_all",
    "stored_filters",
    "stored_query",
    "update",
]


class Editor(audit.Actor, Protocol):
    """Who changes a segment: an actor with an id and a role (a request's ``Principal``)."""

    @property
    def id(self) -> int:
        """The user's or API key's id."""

    @property
    def role(self) -> str:
        """The caller's role (admins may change every segment)."""


def _check_owner(segment: SavedSegment, editor: Editor) -> None:
    """Only the owner or an admin may change ``segment``."""
    if editor.role == "admin":
        return
    if segment.owner_kind == editor.kind and segment.owner_id == editor.id:
        return
    raise PermissionDeniedError(
        t("security.segment_not_owner", name=segment.name),
        hint=t("security.segment_not_owner_hint"),
        code="segments.not_owner",
    )


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


def _stored_text(query: AtRiskQuery) -> str:
    return json.dumps(query.filters().to_dict(), sort_keys=True)


def stored_filters(segment: SavedSegment) -> dict[str, Any]:
    """The segment's filters as stored (a dict of :class:`AtRiskQuery` fields), unchecked.

    For showing a segment: one stored before checks were added still lists.
    """
    data = json.loads(segment.filters or "{}")
    return data if isinstance(data, dict) else {}


def stored_query(segment: SavedSegment) -> AtRiskQuery:
    """The segment's filters as a checked query (apply with ``query.narrowed_by(...)``)."""
    return AtRiskQuery.from_dict(stored_filters(segment)).filters()


def create(
    session: Session, *, name: str, description: str, query: AtRiskQuery, actor: Editor
) -> SavedSegment:
    """Add a segment choosing the customers ``query``'s filters choose; names are unique.

    Only the filters are stored (not the definition, order or page). ``actor`` made it: it is
    recorded as the creator and owner, and in the audit log.
    """
    _unique(session, name)
    segment = SavedSegment(
        name=name,
        description=description,
        filters=_stored_text(query),
        created_by=actor.name,
        owner_kind=actor.kind,
        owner_id=actor.id,
    )
    session.add(segment)
    session.flush()
    audit.record(session, actor, "segment.create", ("segment", segment.id), name=segment.name)
    return segment


def update(
    session: Session,
    *,
    segment: SavedSegment,
    name: str | None,
    description: str | None,
    query: AtRiskQuery | None,
    actor: Editor,
) -> list[str]:
    """Change a segment (its filters to ``query``'s); returns the fields changed (audited).

    Only its owner or an admin may (:class:`PermissionDeniedError` otherwise).
    """
    _check_owner(segment, actor)
    changed = []
    if name is not None and name != segment.name:
        _unique(session, name, except_id=segment.id)
        segment.name = name
        changed.append("name")
    if description is not None and description != segment.description:
        segment.description = description
        changed.append("description")
    if query is not None:
        text = _stored_text(query)
        if text != segment.filters:
            segment.filters = text
            changed.append("filters")
    session.flush()
    if changed:
        audit.record(session, actor, "segment.update", ("segment", segment.id), fields=changed)
    return changed


def delete(session: Session, *, segment: SavedSegment, actor: Editor) -> None:
    """Remove a segment (audited); only its owner or an admin may."""
    _check_owner(segment, actor)
    target, name = ("segment", segment.id), segment.name
    session.delete(segment)
    audit.record(session, actor, "segment.delete", target, name=name)
