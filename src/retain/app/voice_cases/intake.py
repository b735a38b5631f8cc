"""The save-desk intake in the service, behind the API and the dashboard's button alike.

``POST /api/v1/savedesk/intake`` and **Route open cases** both run :func:`run_intake`.

It plans as ``retain savedesk intake`` does (:func:`retain.voice.offer_plan.intake_plan`: with
``budget``, the plan ``GET /api/v1/plan`` answers for it; without, the save desk's plan the
hosted cancellation page offers from, with the ``[savedesk]`` budget, here from the service's
cached copy :class:`retain.app.surveys.offers.ServiceOffers`), then calls
:func:`retain.voice.intake.intake` for the active agent users and audits it as
``savedesk.intake`` with the cases queued, re-offered and routed.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from retain.app._lines import line_named
from retain.app.audit import service as audit
from retain.app.auth.models import User
from retain.app.auth.roles import Role
from retain.app.deps import LockedWarehouse, Principal
from retain.app.surveys.offers import ServiceOffers
from retain.config import Settings
from retain.voice import savedesk
from retain.voice.intake import IntakeResult, intake
from retain.voice.offer_plan import intake_offers

__all__ = ["CAPACITY", "EXPLORE", "run_intake"]

#: Open cases one agent holds at most.
CAPACITY = 20
#: The share of cases routed at random, so every agent's save rate stays measurable.
EXPLORE = 0.1


def _planned(
    request: Request,
    warehouse: LockedWarehouse,
    settings: Settings,
    budget: float | None,
    definition: str | None,
) -> dict[str, str]:
    """What :func:`retain.voice.offer_plan.intake_offers` gives, from the cache when it can."""
    source = getattr(request.app.state, "voice_offer_source", None)
    if budget is None and isinstance(source, ServiceOffers):
        service_plan = source.plan_for(warehouse)
        return savedesk.planned_offers(service_plan) if service_plan is not None else {}
    line = line_named(settings, definition).name if budget is not None else None
    return intake_offers(warehouse.con, settings, budget=budget, definition=line)


def run_intake(
    request: Request,
    session: Session,
    warehouse: LockedWarehouse,
    settings: Settings,
    principal: Principal,
    *,
    budget: float | None = None,
    definition: str | None = None,
) -> IntakeResult:
    """Queue, re-offer and route with the plan, audit it and commit; the cases it touched."""
    planned = _planned(request, warehouse, settings, budget, definition)
    users = session.scalars(
        select(User).where(User.role == Role.agent.value, User.active.is_(True))
    ).all()
    agents = [savedesk.Agent(u.email, CAPACITY) for u in users]
    done = intake(session, agents, planned_offers=planned, explore=EXPLORE)
    audit.record(
        session,
        principal,
        "savedesk.intake",
        None,
        rows=len(done.queued),
        routed=len(done.routed),
        updated=[t.id for t in done.updated],
        planned=len(planned),
    )
    session.commit()
    return done
