"""Saved segments: named filters of the at-risk list (analysts and admins).

Every change is audited by the service, which commits it with its entry.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Response, status

from retain.app.deps import CanReadSegments, CanWriteSegments, IdPath, SessionDep
from retain.app.segments import service
from retain.app.segments.models import SavedSegment
from retain.app.segments.schemas import (
    SegmentCreate,
    SegmentFilters,
    SegmentPublic,
    SegmentsPublic,
    SegmentUpdate,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])


def _public(segment: SavedSegment) -> SegmentPublic:
    return SegmentPublic(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        filters=SegmentFilters.model_validate(json.loads(segment.filters or "{}")),
        created_by=segment.created_by,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )


@router.get("", response_model=SegmentsPublic)
def list_segments(_: CanReadSegments, session: SessionDep) -> SegmentsPublic:
    """Every saved segment."""
    rows = service.list_all(session)
    return SegmentsPublic(data=[_public(s) for s in rows], count=len(rows))


@router.post("", response_model=SegmentPublic, status_code=status.HTTP_201_CREATED)
def create_segment(
    body: SegmentCreate, principal: CanWriteSegments, session: SessionDep
) -> SegmentPublic:
    """Save a named filter; use it as ``segment=NAME`` on the at-risk list."""
    segment = service.create(
        session,
        name=body.name,
        description=body.description,
        query=body.filters.to_query(),
        actor=principal,
    )
    return _public(segment)


@router.get("/{segment_id}", response_model=SegmentPublic)
def read_segment(segment_id: IdPath, _: CanReadSegments, session: SessionDep) -> SegmentPublic:
    """One saved segment."""
    return _public(service.get(session, segment_id=segment_id))


@router.patch("/{segment_id}", response_model=SegmentPublic)
def update_segment(
    segment_id: IdPath, body: SegmentUpdate, principal: CanWriteSegments, session: SessionDep
) -> SegmentPublic:
    """Rename a segment or change its description or filters."""
    segment = service.get(session, segment_id=segment_id)
    service.update(
        session,
        segment=segment,
        name=body.name,
        description=body.description,
        query=body.filters.to_query() if body.filters else None,
        actor=principal,
    )
    return _public(segment)


@router.delete("/{segment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_segment(
    segment_id: IdPath, principal: CanWriteSegments, session: SessionDep
) -> Response:
    """Delete a saved segment."""
    segment = service.get(session, segment_id=segment_id)
    service.delete(session, segment=segment, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
