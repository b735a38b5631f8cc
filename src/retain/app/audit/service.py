"""Writing and reading the audit log.

:func:`record` finishes an audited change: it adds the entry to the session that holds the
change and commits both, so a change and its audit entry land together or not at all. The
services that change users, API keys, logins and ingested batches call it as their last step;
routers do not commit audited work themselves.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from retain.app.audit.models import AuditEntry
from retain.app.db.base import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ["Actor", "Caller", "Target", "list_entries", "record", "record_read"]


class Actor(Protocol):
    """Who acts: a request's :class:`~retain.app.deps.Principal`, or a :class:`Caller`."""

    @property
    def name(self) -> str:
        """The user's e-mail or the key's name (what the log shows as ``actor``)."""

    @property
    def kind(self) -> str:
        """``user``, ``api_key`` or ``cli``."""


@dataclass(frozen=True)
class Caller:
    """An actor without a principal: someone logging in (by the e-mail typed), the CLI."""

    name: str
    kind: str = "user"


Target = tuple[str, object]
"""What was acted on: its kind and id, e.g. ``("user", 7)``; ``("at_risk", "")`` for no id."""


def record(
    session: Session, actor: Actor, action: str, target: Target | None = None, /, **details: Any
) -> AuditEntry:
    """Add an entry for ``action`` by ``actor`` on ``target`` and commit ``session`` with it.

    ``details`` are facts about the change (a role, the fields changed, row counts), stored as
    JSON; never pass customer PII.
    """
    kind, ident = target if target is not None else ("", "")
    entry = _add(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action=action,
        target_type=kind,
        target_id=str(ident),
        details=details,
    )
    session.commit()
    return entry


_INSERT = insert(cast("Table", AuditEntry.__table__))
"""One audit row as a plain INSERT (compiled once by SQLAlchemy's statement cache)."""


def record_read(
    session: Session, actor: Actor, action: str, target: Target | None = None, /, **details: Any
) -> None:
    """:func:`record` for a read (nothing else pending in ``session``): one INSERT and a commit.

    A read of contact details is audited on every request of the busiest routes (customer 360,
    at-risk pages); the ORM's unit of work costs more than the read itself there. The entry is
    committed before the response leaves, as with :func:`record`.
    """
    kind, ident = target if target is not None else ("", "")
    row = {
        "at": utcnow(),
        "actor": actor.name,
        "actor_kind": actor.kind,
        "action": action,
        "target_type": kind,
        "target_id": str(ident),
        "details": json.dumps(details, default=str, sort_keys=True),
    }
    serial = session.get_bind().dialect.name == "sqlite"
    if serial:  # see _SQLITE_WRITES
        _SQLITE_WRITES.acquire()
    try:
        # Core, not the ORM's bulk insert: a third of the cost
        session.connection().execute(_INSERT, row)
        session.commit()
    finally:
        if serial:
            _SQLITE_WRITES.release()


_SQLITE_WRITES = threading.Lock()
"""One SQLite writer at a time in this process. SQLite lets one transaction write at once; the
others get SQLITE_BUSY and its busy handler sleeps 1, 2, 5 ... 100 ms between retries, so under
concurrent audited reads a commit waited up to 180 ms (p99 57 ms with 32 threads). Queuing on a
lock instead keeps each wait at the few hundred microseconds a commit takes."""


def _add(
    session: Session,
    *,
    actor: str,
    actor_kind: str,
    action: str,
    target_type: str = "",
    target_id: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
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
