"""Work on one customer: notes, tasks with an owner and due date, logged calls, and the timeline.

The timeline merges what the app database knows about a customer (notes, tasks, calls, ticket
stages and customer-visible updates, save-desk contacts) into one list of :class:`Entry`, newest
first; the customer 360 adds the warehouse's interactions (messages, survey answers) beside it.
Text is returned as entered; the pages escape it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.voice._case_tables import (
    CallLog,
    CustomerNote,
    CustomerTask,
    SaveDeskTask,
    Ticket,
    TicketUpdate,
)

__all__ = [
    "Entry",
    "add_note",
    "add_task",
    "complete_task",
    "log_call",
    "open_tasks",
    "timeline",
]


@dataclass(frozen=True)
class Entry:
    """One line of a customer's timeline: when, what kind, who, and the text."""

    at: dt.datetime
    kind: str
    actor: str
    text: str
    detail: str = ""


def add_note(session: Session, customer_id: str, body: str, *, author: str) -> CustomerNote:
    """Attach a free-text note to the customer."""
    if not body.strip():
        raise InvalidParameterError(t("voice_cases.empty_note"))
    note = CustomerNote(customer_id=customer_id, author=author, body=body, created_at=utcnow())
    session.add(note)
    session.flush()
    return note


def add_task(
    session: Session,
    customer_id: str,
    title: str,
    *,
    owner: str,
    created_by: str,
    due_on: dt.date | None = None,
) -> CustomerTask:
    """Create a to-do about the customer for ``owner``, due on ``due_on``."""
    if not title.strip() or not owner.strip():
        raise InvalidParameterError(t("voice_cases.bad_task"))
    task = CustomerTask(
        customer_id=customer_id,
        title=title.strip()[:500],
        owner=owner.strip(),
        due_on=due_on,
        done=False,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(task)
    session.flush()
    return task


def complete_task(session: Session, task: CustomerTask) -> CustomerTask:
    """Mark a task done (once; completing it again keeps the first time)."""
    if not task.done:
        task.done, task.done_at = True, utcnow()
        session.flush()
    return task


def log_call(
    session: Session, customer_id: str, *, agent: str, outcome: str, summary: str = ""
) -> CallLog:
    """Record a call with the customer and how it ended."""
    if not outcome.strip():
        raise InvalidParameterError(t("voice_cases.bad_call"))
    call = CallLog(
        customer_id=customer_id,
        agent=agent,
        outcome=outcome.strip()[:40],
        summary=summary,
        occurred_at=utcnow(),
    )
    session.add(call)
    session.flush()
    return call


def open_tasks(session: Session, *, owner: str | None = None) -> list[CustomerTask]:
    """Tasks not done (of ``owner`` if given), the earliest due first, undated last."""
    query = select(CustomerTask).where(CustomerTask.done.is_(False))
    if owner is not None:
        query = query.where(CustomerTask.owner == owner)
    rows = list(session.scalars(query))
    return sorted(rows, key=lambda r: (r.due_on is None, r.due_on or dt.date.max, r.id))


def timeline(session: Session, customer_id: str, *, internal: bool = True) -> list[Entry]:
    """Everything the app database holds about the customer, newest first.

    With ``internal=False`` only what the customer may see (ticket stages and visible updates).
    """
    entries: list[Entry] = []
    subjects = {
        tk.id: tk.subject
        for tk in session.scalars(select(Ticket).where(Ticket.customer_id == customer_id))
    }
    for up in session.scalars(select(TicketUpdate).where(TicketUpdate.customer_id == customer_id)):
        if not up.visible and not internal:
            continue
        kind = {"opened": "ticket_opened", "stage": "ticket_stage"}.get(
            up.kind, f"ticket_{up.kind}"
        )
        text = subjects.get(up.ticket_id, "")
        entries.append(Entry(up.occurred_at, kind, up.author or "", text, up.stage or up.body))
    if internal:
        notes = select(CustomerNote).where(CustomerNote.customer_id == customer_id)
        entries.extend(
            Entry(n.created_at, "note", n.author, n.body) for n in session.scalars(notes)
        )
        for task in session.scalars(
            select(CustomerTask).where(CustomerTask.customer_id == customer_id)
        ):
            due = task.due_on.isoformat() if task.due_on else ""
            state = "done" if task.done else due
            entries.append(Entry(task.created_at, "task", task.owner, task.title, state))
        calls = select(CallLog).where(CallLog.customer_id == customer_id)
        entries.extend(
            Entry(c.occurred_at, "call", c.agent, c.summary, c.outcome)
            for c in session.scalars(calls)
        )
        for case in session.scalars(
            select(SaveDeskTask).where(SaveDeskTask.customer_id == customer_id)
        ):
            at = case.closed_at or case.assigned_at or case.created_at
            detail = case.outcome or case.status
            entries.append(Entry(at, "savedesk", case.agent or "", case.reason, detail))
    return sorted(entries, key=lambda e: e.at, reverse=True)
