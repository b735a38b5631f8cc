"""The save desk's intake, one call for the API, the dashboard's button and the command line.

:func:`intake` queues the hosted cancellations whose customer accepted a call
(:func:`retain.voice.savedesk.from_cancellations`), gives open cases still showing the reason's
fallback the offer planner's action once there is a plan (:func:`refresh_offers`), flags
high-risk high-value customers when asked, and routes the open cases to the agents.

A case queued before any plan existed shows its reason's fallback; running the intake again
with a plan updates it, but never a case an agent has already worked (closed, or the assigned
agent logged a call or a note on the customer since it was assigned), and never replaces a
planner's offer with a fallback (only planned actions are written).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from retain.voice._case_tables import CallLog, CustomerNote, SaveDeskTask
from retain.voice.savedesk import (
    Agent,
    flag_high_risk,
    from_cancellations,
    recommend_offer,
    route,
)

__all__ = ["IntakeResult", "intake", "refresh_offers", "worked"]


@dataclass(frozen=True)
class IntakeResult:
    """What one intake did: cases queued (new or already queued), re-offered and routed."""

    queued: list[SaveDeskTask] = field(default_factory=list)
    updated: list[SaveDeskTask] = field(default_factory=list)
    routed: list[SaveDeskTask] = field(default_factory=list)


def worked(session: Session, task: SaveDeskTask) -> bool:
    """Whether ``task`` was worked: closed, or its agent logged a call or note since routing."""
    if task.status == "done":
        return True
    if task.agent is None or task.assigned_at is None:
        return False
    since = task.assigned_at
    call = select(CallLog.id).where(
        CallLog.customer_id == task.customer_id,
        CallLog.agent == task.agent,
        CallLog.occurred_at >= since,
    )
    note = select(CustomerNote.id).where(
        CustomerNote.customer_id == task.customer_id,
        CustomerNote.author == task.agent,
        CustomerNote.created_at >= since,
    )
    return session.scalar(call.limit(1)) is not None or session.scalar(note.limit(1)) is not None


def refresh_offers(session: Session, planned: Mapping[str, str]) -> list[SaveDeskTask]:
    """Give each unworked case still showing its reason's fallback the plan's action.

    Only a planned action (not ``nothing``) is written, so a planner's offer is never replaced
    by a fallback; a case whose customer the plan does not target keeps what it shows.
    """
    changed: list[SaveDeskTask] = []
    cases = session.scalars(
        select(SaveDeskTask).where(SaveDeskTask.status != "done").order_by(SaveDeskTask.id)
    )
    for task in cases:
        action = planned.get(task.customer_id)
        if not action or action == "nothing" or action == task.offer:
            continue
        if task.offer != recommend_offer(task.reason) or worked(session, task):
            continue
        task.offer = action
        changed.append(task)
    session.flush()
    return changed


def intake(
    session: Session,
    agents: Sequence[Agent],
    *,
    planned_offers: Mapping[str, str] | None = None,
    high_risk: Iterable[tuple[str, float, float, str]] = (),
    min_risk: float = 0.5,
    min_value: float = 1000.0,
    explore: float = 0.1,
    rng: random.Random | None = None,
) -> IntakeResult:
    """Queue the cancellations that asked for a call, re-offer, flag high risk, then route.

    ``planned_offers`` (:func:`retain.voice.savedesk.planned_offers` of a plan) gives new cases
    the planner's action and updates the fallback offers of unworked open cases
    (:func:`refresh_offers`); ``high_risk`` candidates over ``min_risk`` and ``min_value`` are
    queued too. The caller commits.
    """
    planned = dict(planned_offers or {})
    updated = refresh_offers(session, planned) if planned else []
    queued = from_cancellations(session, planned_offers=planned)
    flagged = flag_high_risk(
        session, high_risk, min_risk=min_risk, min_value=min_value, planned_offers=planned
    )
    queued += [t for t in flagged if t not in queued]
    routed = route(session, agents, explore=explore, rng=rng)
    return IntakeResult(queued=queued, updated=updated, routed=routed)
