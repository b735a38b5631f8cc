"""Reading the audit log (admins only)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from retain.app._openapi import UtcDateTime, document_errors
from retain.app.audit import service
from retain.app.deps import CanReadAudit, SessionDep

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntryPublic(BaseModel):
    """One audit entry."""

    id: int
    at: UtcDateTime
    actor: str
    actor_kind: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


class AuditEntriesPublic(BaseModel):
    """A page of the audit log, newest first; pass ``next_before`` as ``before`` for the next."""

    data: list[AuditEntryPublic]
    count: int
    next_before: int | None


@router.get("", response_model=AuditEntriesPublic)
def list_audit(
    _: CanReadAudit,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=100)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditEntriesPublic:
    """Who changed what and when, newest first."""
    rows, total = service.list_entries(session, action=action, before_id=before, limit=limit)
    data = [
        AuditEntryPublic(
            id=r.id,
            at=r.at,
            actor=r.actor,
            actor_kind=r.actor_kind,
            action=r.action,
            target_type=r.target_type,
            target_id=r.target_id,
            details=json.loads(r.details or "{}"),
        )
        for r in rows
    ]
    next_before = rows[-1].id if len(rows) == limit else None
    return AuditEntriesPublic(data=data, count=total, next_before=next_before)


document_errors(router)
