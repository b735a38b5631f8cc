"""Saved segments: create, find, change, delete; each change is audited and committed here.

A segment belongs to the user or API key that saved it: only its owner or an admin may change
or delete it (others get :class:`~retain.errors.PermissionDeniedError`, 403); everyone who may
read segments reads them all.

A segment stores the filter part of an :class:`~retain.targeting.AtRiskQuery` as the JSON of
its dict form (``query.filters().to_dict()``), the same keys segments always stored, so those
saved before read unchanged; a segment built as a rule (docs/segments.md) stores it under the key
``rule`` of the same JSON, so no migration was needed. A rule may name other saved segments:
they must exist when it is saved (and not lead back to it), and a segment another one names can
be neither renamed nor deleted (:class:`~retain.errors.ConflictError` naming who uses it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from retain.app.audit import service as audit
from retain.app.segments.models import SavedSegment
from retain.errors import ConflictError, NotFoundError, PermissionDeniedError
from retain.i18n import t
from retain.targeting import AtRiskQuery
from retain.targeting.segments import Rule, expand, parse_rule, saved_refs
from retain.targeting.segments.builder import rule_error
from retain.targeting.segments.saved import has_filters

__all__ = [
    "Editor",
    "create",
    "delete",
    "get",
    "get_by_name_or_id",
    "list_all",
    "referrers",
    "resolver",
    "stored_filters",
    "stored_query",
    "stored_query_unexpanded",
    "stored_rule",
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


def _stored(segment: SavedSegment) -> dict[str, Any]:
    data = json.loads(segment.filters or "{}")
    return data if isinstance(data, dict) else {}


def stored_filters(segment: SavedSegment) -> dict[str, Any]:
    """The segment's filters as stored (a dict of :class:`AtRiskQuery` fields), unchecked.

    For showing a segment: one stored before checks were added still lists. The rule, if any,
    is not among them (:func:`stored_rule`).
    """
    return {k: v for k, v in _stored(segment).items() if k != "rule"}


def stored_rule(segment: SavedSegment) -> dict[str, Any] | None:
    """The segment's rule in its JSON form as stored, or None (a segment of filters only)."""
    rule = _stored(segment).get("rule")
    return rule if isinstance(rule, dict) else None


def resolver(session: Session) -> Any:
    """Name -> rule of the saved segments in ``session``, for :func:`expand`.

    A segment of at-risk filters cannot be part of a rule (its customers are the at-risk
    list's); naming one is refused, saying so.
    """

    def resolve(name: str) -> Rule | None:
        found = session.scalar(select(SavedSegment).where(SavedSegment.name == name))
        if found is None:
            return None
        query = AtRiskQuery.from_dict(_stored(found))
        if query.rule is None or has_filters(query):
            raise rule_error("rule_ref_filters", path="rule", name=name)
        return query.rule

    return resolve


def stored_query(segment: SavedSegment) -> AtRiskQuery:
    """The segment's filters and rule as a checked query (apply with ``query.narrowed_by``).

    The rule's references to other saved segments are replaced by their rules, read in the
    segment's own session.
    """
    query = AtRiskQuery.from_dict(_stored(segment)).filters()
    session = object_session(segment)
    if query.rule is not None and session is not None:
        query = replace(query, rule=expand(query.rule, resolver(session)))
    return query


def stored_query_unexpanded(segment: SavedSegment) -> AtRiskQuery:
    """The segment's filters and rule as stored, references to other segments kept (to edit)."""
    return AtRiskQuery.from_dict(_stored(segment)).filters()


def referrers(session: Session, name: str) -> list[str]:
    """The saved segments whose rule names the segment ``name``."""
    out = []
    for other in list_all(session):
        rule = stored_rule(other)
        if rule is not None and name in saved_refs(parse_rule(rule)):
            out.append(other.name)
    return out


def _check_refs(session: Session, name: str, query: AtRiskQuery) -> None:
    """Every segment the rule names exists, holds a rule, and does not lead back to ``name``."""
    if query.rule is None:
        return
    resolve = resolver(session)

    def named(other: str) -> Rule | None:
        return query.rule if other == name else resolve(other)

    expand(query.rule, named, within=(name,))


def _in_use(session: Session, segment: SavedSegment) -> None:
    users = [n for n in referrers(session, segment.name) if n != segment.name]
    if users:
        raise ConflictError(
            t("segments.saved_in_use", name=segment.name, users=", ".join(users)),
            code="segments.in_use",
        )


def create(
    session: Session,
    *,
    name: str,
    description: str,
    query: AtRiskQuery,
    actor: Editor | audit.Actor,
) -> SavedSegment:
    """Add a segment choosing the customers ``query``'s filters and rule choose; names unique.

    Only the filters and the rule are stored (not the definition, order or page); the saved
    segments the rule names must exist and hold rules. ``actor`` made it: it is recorded as
    the creator, as the owner when it has an id (a user or API key; the CLI's editor is
    ``cli`` with id 0), and in the audit log.
    """
    _unique(session, name)
    _check_refs(session, name, query)
    ident = getattr(actor, "id", None)
    segment = SavedSegment(
        name=name,
        description=description,
        filters=_stored_text(query),
        created_by=actor.name,
        owner_kind=actor.kind if ident is not None else None,
        owner_id=ident,
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
        _in_use(session, segment)
        segment.name = name
        changed.append("name")
    if description is not None and description != segment.description:
        segment.description = description
        changed.append("description")
    if query is not None:
        _check_refs(session, segment.name, query)
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
    _in_use(session, segment)
    target, name = ("segment", segment.id), segment.name
    session.delete(segment)
    audit.record(session, actor, "segment.delete", target, name=name)
