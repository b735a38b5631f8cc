"""Saved segments: rules and at-risk filters, their customers and size (analysts and admins).

Every change is audited by the service, which commits it with its entry; so is the CSV of a
segment's customers (an export).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from retain.app.deps import (
    CanExport,
    CanReadSegments,
    CanWriteSegments,
    IdPath,
    LockedWarehouseDep,
    SessionDep,
    SettingsDep,
)
from retain.app.segments import members as segment_members
from retain.app.segments import service
from retain.app.segments.models import SavedSegment
from retain.app.segments.schemas import (
    SegmentCreate,
    SegmentMembers,
    SegmentPublic,
    SegmentSize,
    SegmentSizes,
    SegmentsPublic,
    SegmentUpdate,
)
from retain.targeting import AtRiskQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])


AsOfQuery = Annotated[
    dt.date | None,
    Query(description="The date a rule is evaluated on (default: the line's latest scoring run)."),
]
DefinitionQuery = Annotated[
    str | None,
    Query(max_length=100, description="Business line whose scores and features the rule reads."),
]


def _public(segment: SavedSegment) -> SegmentPublic:
    return SegmentPublic.of(segment)


@router.get("", response_model=SegmentsPublic)
def list_segments(_: CanReadSegments, session: SessionDep) -> SegmentsPublic:
    """Every saved segment."""
    rows = service.list_all(session)
    return SegmentsPublic(data=[_public(s) for s in rows], count=len(rows))


@router.post("", response_model=SegmentPublic, status_code=status.HTTP_201_CREATED)
def create_segment(
    body: SegmentCreate, principal: CanWriteSegments, session: SessionDep
) -> SegmentPublic:
    """Save a named rule or filter; use it as ``segment=NAME`` on the at-risk list.

    A rule that is invalid is refused with a 422 whose message names its path inside the rule
    (``rule.all[2].field: unknown field 'tenur'; did you mean 'tenure_days'?``).
    """
    segment = service.create(
        session,
        name=body.name,
        description=body.description,
        query=body.to_query(),
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
    """Rename a segment or change its description, filters or rule (``"rule": null`` drops it).

    A segment another segment's rule names can be neither renamed nor deleted (409).
    """
    segment = service.get(session, segment_id=segment_id)
    query: AtRiskQuery | None = None
    if body.filters is not None or "rule" in body.model_fields_set:
        old = service.stored_query_unexpanded(segment)
        query = body.filters.to_query() if body.filters is not None else old
        rule = body.rule if "rule" in body.model_fields_set else old.rule
        query = replace(query, rule=rule)  # type: ignore[arg-type]
    service.update(
        session,
        segment=segment,
        name=body.name,
        description=body.description,
        query=query,
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


@router.get("/{segment_id}/members", response_model=SegmentMembers)
async def read_segment_members(
    segment_id: IdPath,
    _: CanReadSegments,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    as_of: AsOfQuery = None,
    definition: DefinitionQuery = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=segment_members.MAX_PAGE)] = 1000,
) -> SegmentMembers:
    """The segment's customer ids on a date, sorted, a page at a time (``offset``, ``limit``).

    A rule is evaluated as of ``as_of`` (default: the line's latest scoring run); a segment of
    at-risk filters lists the at-risk list's customers of that run.
    """
    segment = service.get(session, segment_id=segment_id)
    found = await run_in_threadpool(
        segment_members.members,
        segment,
        warehouse,
        settings=settings,
        as_of=as_of,
        definition=definition,
        offset=offset,
        limit=limit,
    )
    stamp = found.as_of.to_pydatetime() if found.as_of is not None else None
    return SegmentMembers(
        name=segment.name, as_of=stamp, total=found.total, offset=offset, data=found.ids
    )


@router.get(
    "/{segment_id}/members.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_segment_members(
    segment_id: IdPath,
    principal: CanExport,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    as_of: AsOfQuery = None,
    definition: DefinitionQuery = None,
) -> StreamingResponse:
    """Every customer id of the segment as CSV (bulk export: audited, analysts and admins)."""
    segment = service.get(session, segment_id=segment_id)
    chunks = segment_members.export_csv(
        session,
        segment,
        warehouse,
        settings=settings,
        actor=principal,
        as_of=as_of,
        definition=definition,
    )
    name = f"segment-{segment.id}-members.csv"
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{segment_id}/size", response_model=SegmentSizes)
async def read_segment_size(
    segment_id: IdPath,
    _: CanReadSegments,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    months: Annotated[int, Query(ge=1, le=120)] = 12,
    end: AsOfQuery = None,
    definition: DefinitionQuery = None,
) -> SegmentSizes:
    """The segment's size at month ends: its rule evaluated point in time at each.

    A segment of at-risk filters has no history (422, code ``segments.no_rule``).
    """
    segment = service.get(session, segment_id=segment_id)
    frame = await run_in_threadpool(
        segment_members.sizes,
        segment,
        warehouse,
        settings=settings,
        months=months,
        end=end,
        definition=definition,
    )
    rows = [
        SegmentSize(as_of=stamp.to_pydatetime(), customers=int(n))
        for stamp, n in zip(frame["as_of"], frame["customers"], strict=True)
    ]
    return SegmentSizes(name=segment.name, data=rows)
