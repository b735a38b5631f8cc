"""The save-desk queue page: agents see and work only their own cases, managers see them all.

An agent (role ``agent``) sees the cases assigned to them, each with the customer, the stated
reason, the value, the recommended offer and a link to the customer 360, and records the
outcome; a case outside their queue is refused. Admins and analysts see every case and the
save rates, and run the save desk's intake with **Route open cases**: the same as
``POST /api/v1/savedesk/intake`` without a budget (:func:`retain.app.voice_cases.intake.run_intake`:
queue the cancellations that asked for a call with the service's planned offers, re-offer
unworked fallback cases, route to each active agent user with :data:`CAPACITY` open cases at
most, :data:`EXPLORE` of them at random), audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from retain.app.auth.roles import Permission, Role
from retain.app.deps import IdPath, LockedWarehouseDep, Principal, SessionDep, SettingsDep
from retain.app.voice_cases.intake import CAPACITY, EXPLORE, run_intake
from retain.app.web._page import page as _page
from retain.app.web._session import check_csrf, render, require_page
from retain.errors import NotFoundError, PermissionDeniedError
from retain.i18n import t
from retain.voice import savedesk
from retain.voice._case_tables import SaveDeskTask

__all__ = ["CAPACITY", "EXPLORE", "router"]

router = APIRouter(include_in_schema=False)

Worker = Annotated[Principal, Depends(require_page(Permission.customers_read))]
Manager = Annotated[Principal, Depends(require_page(Permission.metrics_read))]


def is_agent(principal: Principal) -> bool:
    """Whether ``principal`` works a queue of their own (and may see only that)."""
    return principal.role == Role.agent.value


@router.get("/savedesk", response_class=HTMLResponse)
def queue(request: Request, principal: Worker, session: SessionDep) -> HTMLResponse:
    """The agent's own queue, or the whole desk with save rates for managers."""

    def build() -> HTMLResponse:
        if is_agent(principal):
            rows = savedesk.queue_of(session, principal.name)
            rates: list[savedesk.Rate] = []
        else:
            rows = list(
                session.scalars(
                    select(SaveDeskTask).order_by(SaveDeskTask.status, SaveDeskTask.created_at)
                )
            )
            rates = savedesk.rates(session, by="agent")
        return render(
            request,
            "savedesk.html",
            principal=principal,
            title_key="voice_cases.savedesk_title",
            rows=rows,
            rates=rates,
            mine=is_agent(principal),
            routed=request.query_params.get("routed"),
            queued=request.query_params.get("queued"),
            updated=request.query_params.get("updated"),
        )

    return _page(request, principal, build)


@router.post("/savedesk/{task_id}", response_model=None)
def outcome(
    request: Request,
    principal: Worker,
    task_id: IdPath,
    session: SessionDep,
    result: Annotated[str, Form(max_length=12)],
    csrf: Annotated[str, Form(max_length=500)] = "",
    offer: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """Record a case's outcome; an agent may close only a case in their own queue."""

    def build() -> Any:
        check_csrf(principal, csrf)
        task = session.get(SaveDeskTask, task_id)
        if task is None:
            raise NotFoundError(t("voice_cases.no_case", case=task_id))
        if is_agent(principal) and task.agent != principal.name:
            raise PermissionDeniedError(t("voice_cases.not_in_queue"))
        savedesk.record_outcome(session, task, result, offer=offer.strip() or None, note=note)
        session.commit()
        return RedirectResponse("/savedesk", status_code=303)

    return _page(request, principal, build)


@router.post("/savedesk-route", response_model=None)
def route_cases(
    request: Request,
    principal: Manager,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    csrf: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Run the save desk's intake, as the API does without a budget: queue, re-offer, route."""

    def build() -> Any:
        check_csrf(principal, csrf)
        done = run_intake(request, session, warehouse, settings, principal)
        counts = f"routed={len(done.routed)}&queued={len(done.queued)}&updated={len(done.updated)}"
        return RedirectResponse(f"/savedesk?{counts}", status_code=303)

    return _page(request, principal, build)
