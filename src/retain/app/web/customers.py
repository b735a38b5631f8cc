"""Dashboard pages about customers: the at-risk list, its CSV, saved segments, customer 360.

The 360 is worked in: notes, tasks with an owner and due date, logged calls with their
outcome, and the open save-desk cases (an agent sees only those in their own queue).

The pages ask the same services as the API: the page's query string becomes one
:class:`~retain.targeting.AtRiskQuery` (:func:`retain.app.customers.at_risk.resolve`), and the
form shows that query's parameters back, with a selector of the configured business lines:
the list, its count and its date all belong to the line chosen (``?definition=NAME``).
Customer ids may contain ``/``: the customer page's route takes the rest of the path.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from retain.app.auth.roles import Permission, Role
from retain.app.customers import access
from retain.app.customers import at_risk as at_risk_service
from retain.app.customers import service as customers
from retain.app.customers.router import csv_response
from retain.app.deps import LockedWarehouseDep, Principal, SessionDep, SettingsDep
from retain.app.metrics import service as metrics
from retain.app.segments import service as segments
from retain.app.web._page import MISSING_COMMANDS
from retain.app.web._page import page as _page
from retain.app.web._session import check_csrf, render, require_page
from retain.i18n import get_language
from retain.models.churn.reasons.rules import RULES_BY_FAMILY
from retain.targeting import AtRiskQuery
from retain.voice import work
from retain.voice._case_tables import CustomerTask, SaveDeskTask

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

AtRiskReader = Annotated[Principal, Depends(require_page(Permission.at_risk_read))]
Exporter = Annotated[Principal, Depends(require_page(Permission.export))]
SegmentWriter = Annotated[Principal, Depends(require_page(Permission.segments_write))]
CustomerReader = Annotated[Principal, Depends(require_page(Permission.customers_read))]


@router.get("/at-risk", response_class=HTMLResponse)
def at_risk(
    request: Request,
    principal: AtRiskReader,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
) -> HTMLResponse:
    """The at-risk list with filters, reasons, CLV and links to each customer."""

    def build() -> HTMLResponse:
        form = AtRiskQuery.from_params(
            request.query_params, default_definition=settings.churn_definition().name
        )
        saved = segments.list_all(session) if principal.may(Permission.segments_read) else []
        has_scores = metrics.has_rows(warehouse.con, "churn_scores")
        page = None
        if has_scores:
            query = access.narrow(
                session,
                principal,
                at_risk_service.resolve(request.query_params, settings=settings, session=session),
            )
            pii = principal.may(Permission.customers_pii)
            page = at_risk_service.page(
                warehouse, query, settings=settings, pii=pii, lang=get_language()
            )
        kept = [
            (k, v) for k, v in request.query_params.multi_items() if k not in {"cursor", "lang"}
        ]
        next_link = None
        if page is not None and page.next_cursor:
            next_link = "/at-risk?" + urlencode([*kept, ("cursor", page.next_cursor)])
        return render(
            request,
            "at_risk.html",
            principal=principal,
            title_key="web.nav_at_risk",
            params=form.to_params(defaults=True),
            page=page,
            saved=saved,
            has_scores=has_scores,
            next_link=next_link,
            export_query=urlencode(kept),
            can_export=principal.may(Permission.export),
            can_save=principal.may(Permission.segments_write),
            commands=MISSING_COMMANDS,
            currency=settings.currency,
            lines=[(line.name, line.kind) for line in settings.churn],
            reason_families=sorted(RULES_BY_FAMILY),
            can_search_email=principal.may(Permission.customers_pii),
        )

    return _page(request, principal, build)


@router.get("/at-risk.csv", response_model=None)
def at_risk_csv(
    request: Request,
    principal: Exporter,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
) -> Response:
    """The filtered at-risk list as CSV (analysts and admins)."""

    def build() -> Any:
        export = at_risk_service.export(
            session, warehouse, request.query_params, settings=settings, principal=principal
        )
        return csv_response(export)

    return _page(request, principal, build)


@router.post("/at-risk/segments", response_model=None)
def save_segment(
    request: Request,
    principal: SegmentWriter,
    session: SessionDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    csrf: Annotated[str, Form(max_length=500)] = "",
    filters: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Save the current filters as a named segment (form with CSRF token)."""

    def build() -> Any:
        check_csrf(principal, csrf)
        query = AtRiskQuery.from_params(parse_qsl(filters))
        if query.segment is not None:  # the list showed a saved segment: keep what it chose
            shown = segments.get_by_name_or_id(session, ref=query.segment)
            query = query.narrowed_by(segments.stored_query_unexpanded(shown))
        segment = segments.create(
            session, name=name.strip(), description="", query=query, actor=principal
        )
        return RedirectResponse("/at-risk?" + urlencode({"segment": segment.name}), status_code=303)

    return _page(request, principal, build)


@router.get("/customers/{customer_id:path}", response_class=HTMLResponse)
def customer(
    request: Request,
    principal: CustomerReader,
    customer_id: Annotated[str, Path(min_length=1, max_length=200)],
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
) -> HTMLResponse:
    """Customer 360 with the timeline, and the notes, tasks, calls and cases to work on."""

    def build() -> HTMLResponse:
        access.check_customer(session, principal, customer_id)
        pii = principal.may(Permission.customers_pii)
        data = customers.customer_360(warehouse.reads, customer_id, pii=pii, lang=get_language())
        cases = [
            c
            for c in session.scalars(
                select(SaveDeskTask).where(
                    SaveDeskTask.customer_id == customer_id, SaveDeskTask.status != "done"
                )
            )
            if principal.role != Role.agent.value or c.agent == principal.name
        ]
        return render(
            request,
            "customer.html",
            principal=principal,
            title_key="web.customer_title",
            c=data,
            currency=settings.currency,
            commands=MISSING_COMMANDS,
            work=work.timeline(session, customer_id),
            tasks=[t for t in work.open_tasks(session) if t.customer_id == customer_id],
            cases=cases,
            today=dt.date.today().isoformat(),
        )

    return _page(request, principal, build)


@router.post("/customers/{customer_id:path}", response_model=None)
def customer_work(
    request: Request,
    principal: CustomerReader,
    customer_id: Annotated[str, Path(min_length=1, max_length=200)],
    session: SessionDep,
    action: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str, Form(max_length=500)] = "",
    text: Annotated[str, Form(max_length=20000)] = "",
    owner: Annotated[str, Form(max_length=320)] = "",
    due_on: Annotated[str, Form(max_length=10)] = "",
    outcome: Annotated[str, Form(max_length=40)] = "",
    task_id: Annotated[int, Form(ge=0, le=2**53)] = 0,
) -> Response:
    """Add a ``note``, a ``task`` (owner, due date), a ``call`` (outcome), or a task ``done``."""

    def build() -> Any:
        check_csrf(principal, csrf)
        access.check_customer(session, principal, customer_id)
        if action == "note":
            work.add_note(session, customer_id, text, author=principal.name)
        elif action == "task":
            due = dt.date.fromisoformat(due_on) if due_on else None
            work.add_task(
                session,
                customer_id,
                text,
                owner=owner.strip() or principal.name,
                created_by=principal.name,
                due_on=due,
            )
        elif action == "call":
            work.log_call(session, customer_id, agent=principal.name, outcome=outcome, summary=text)
        elif action == "done":
            task = session.get(CustomerTask, task_id)
            if task is not None and task.customer_id == customer_id:
                work.complete_task(session, task)
        session.commit()
        return RedirectResponse(f"/customers/{quote(customer_id, safe='')}", status_code=303)

    return _page(request, principal, build)
