"""Writing and reading the audit log.

Entries join the caller's transaction, so a change and its
audit entry are committed together or not at all.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retain.app.audit.models import AuditEntry

__all__ = ["list_entries", "record"]


def record(
    session: Session,
    *,
    actor: str,
    actor_kind: str,
    action: str,
    target_type: str = "",
    target_id: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session`` (the caller commits). Never pass customer PII."""
    entry = AuditEntry(
        actor=actor,
        actor_kind=actor_kind,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=json.dumps(details or {}, default=str, sort_keys=True),
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session, *, action: str | None = None, before_id: int | None = None, limit: int = 100
) -> tuple[list[AuditEntry], int]:
    """Newest entries first, keyset-paged by id; returns (entries, total matching)."""
    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
        count = count.where(AuditEntry.action == action)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
    return rows, int(session.scalar(count) or 0)
