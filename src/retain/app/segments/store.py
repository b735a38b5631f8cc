"""Saved segments as the CLI reaches them: list, find, save (through ``retain.app``'s names).

The CLI may import only :mod:`retain.app`'s public names (the import-linter contract
"cli-app-door"); these functions are the ones ``retain segments create|list|show|members|size``
need. They return plain dicts (the API's :class:`SegmentPublic` form) and checked queries, so
the CLI never holds an ORM object. The CLI acts as an admin (whoever runs it can open the app
database anyway) and is recorded in the audit log as ``cli``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from retain.app.segments import service
from retain.app.segments.schemas import SegmentPublic
from retain.targeting import AtRiskQuery

__all__ = ["CLI_EDITOR", "find_segment", "list_segments", "save_segment"]


@dataclass(frozen=True)
class _CliEditor:
    """The CLI as the editor of a segment: an admin without an id, named ``cli``."""

    name: str = "cli"
    kind: str = "cli"
    id: int = 0
    role: str = "admin"


CLI_EDITOR = _CliEditor()


def _view(segment: Any) -> dict[str, Any]:
    return SegmentPublic.of(segment).model_dump(mode="json")


def list_segments(session: Session) -> list[dict[str, Any]]:
    """Every saved segment, by name, in the API's form."""
    return [_view(s) for s in service.list_all(session)]


def find_segment(session: Session, ref: str) -> tuple[dict[str, Any], AtRiskQuery]:
    """The segment named ``ref`` (or with that id) and its checked query (rule expanded).

    :class:`~retain.errors.NotFoundError` when there is none.
    """
    segment = service.get_by_name_or_id(session, ref=ref)
    return _view(segment), service.stored_query(segment)


def save_segment(
    session: Session,
    *,
    name: str,
    description: str | None,
    rule: object,
    replace: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Save ``rule`` (its dict or JSON form) as segment ``name``; returns it and whether new.

    With ``replace``, an existing segment of that name gets the rule (its filters dropped) and
    the description if given; without, an existing name is a :class:`ConflictError`. The rule
    is checked (paths named) and its references to other segments must exist.
    """
    query = AtRiskQuery(rule=rule)  # type: ignore[arg-type]
    existing = None
    if replace:
        existing = next((s for s in service.list_all(session) if s.name == name), None)
    if existing is None:
        segment = service.create(
            session, name=name, description=description or "", query=query, actor=CLI_EDITOR
        )
        return _view(segment), True
    service.update(
        session,
        segment=existing,
        name=None,
        description=description,
        query=query,
        actor=CLI_EDITOR,
    )
    return _view(existing), False
