"""Dashboard pages for complaints: the list with SLA state, a form to open one, each ticket.

Each ticket's page lets staff move it, add internal notes or customer-visible updates, and
copy the status link. Every form carries the login session's CSRF token; all text is autoescaped.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.customers import access
from retain.app.deps import IdPath, LockedWarehouseDep, Principal, SessionDep, SettingsDep
from retain.app.voice_cases.router import append_events, link_maker, status_url
from retain.app.web._page import page as _page
from retain.app.web._session import check_csrf, render, require_page
from retain.errors import NotFoundError
from retain.i18n import t
from retain.voice import tickets
from retain.voice._case_tables import Ticket, TicketUpdate

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Worker = Annotated[Principal, Depends(require_page(Permission.customers_read))]
Exporter = Annotated[Principal, Depends(require_page(Permission.export))]
Text = Annotated[str, Form(max_length=20000)]


@router.get("/tickets", response_class=HTMLResponse)
def ticket_list(request: Request, principal: Worker, session: SessionDep) -> HTMLResponse:
    """Open tickets first, the earliest resolution deadline first; a form for a new one."""

    def build() -> HTMLResponse:
        tickets.refresh_breaches(session)
        session.commit()
        rows = session.scalars(select(Ticket).order_by(Ticket.resolve_due_at)).all()
        allowed = access.visible_customers(session, principal)  # an agent: their queue's only
        rows = [r for r in rows if allowed is None or r.customer_id in allowed]
        rows = sorted(rows, key=lambda r: r.stage in ("resolved", "closed"))
        return render(
            request,
            "tickets.html",
            principal=principal,
            title_key="voice_cases.tickets_title",
            rows=rows,
        )

    return _page(request, principal, build)


@router.get("/tickets.csv", response_model=None)
def ticket_export(request: Request, principal: Exporter, session: SessionDep) -> Response:
    """Every ticket as CSV (analysts and admins), formula-like text neutralised, audited."""

    def build() -> Any:
        text = tickets.export_csv(session)
        audit.record(session, principal, "tickets.export", None, rows=text.count("\n") - 1)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="tickets-{stamp}.csv"'},
        )

    return _page(request, principal, build)


@router.post("/tickets", response_model=None)
def ticket_create(
    request: Request,
    principal: Worker,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    customer_id: Annotated[str, Form(min_length=1, max_length=200)],
    subject: Annotated[str, Form(min_length=1, max_length=500)],
    csrf: Annotated[str, Form(max_length=500)] = "",
    body: Text = "",
    category: Annotated[str, Form(max_length=100)] = "general",
    email: Annotated[str, Form(max_length=320)] = "",
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    """Open a ticket from the dashboard, owned by whoever opened it."""

    def build() -> Any:
        check_csrf(principal, csrf)
        access.check_customer(session, principal, customer_id.strip())
        ticket = tickets.open_ticket(
            session,
            customer_id=customer_id.strip(),
            subject=subject,
            body=body,
            category=category.strip() or "general",
            email=email.strip() or None,
            language=language,
            owner=principal.name,
            link_for=link_maker(request, session),
        )
        session.commit()
        append_events(session, settings, warehouse.con)
        return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)

    return _page(request, principal, build)


def _ticket(session: Any, ticket_id: int, principal: Principal) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not access.may_open(session, principal, ticket.customer_id):
        raise NotFoundError(t("voice_cases.no_ticket", id=ticket_id))
    assert isinstance(ticket, Ticket)
    return ticket


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(
    request: Request, principal: Worker, ticket_id: IdPath, session: SessionDep
) -> HTMLResponse:
    """One ticket: stage, clocks, every update (internal ones marked), the moves allowed."""

    def build() -> HTMLResponse:
        ticket = _ticket(session, ticket_id, principal)
        updates = session.scalars(
            select(TicketUpdate)
            .where(TicketUpdate.ticket_id == ticket.id)
            .order_by(TicketUpdate.occurred_at, TicketUpdate.id)
        ).all()
        return render(
            request,
            "ticket.html",
            principal=principal,
            title_key="voice_cases.tickets_title",
            ticket=ticket,
            updates=updates,
            moves=tickets.TRANSITIONS[ticket.stage],
            link=status_url(request, session, ticket.id),
        )

    return _page(request, principal, build)


@router.post("/tickets/{ticket_id}", response_model=None)
def ticket_action(
    request: Request,
    principal: Worker,
    ticket_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    action: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str, Form(max_length=500)] = "",
    stage: Annotated[str, Form(max_length=24)] = "",
    text: Text = "",
) -> Response:
    """``move`` to a stage (e-mails the customer), add a ``note`` or a customer ``update``."""

    def build() -> Any:
        check_csrf(principal, csrf)
        ticket = _ticket(session, ticket_id, principal)
        if action == "move":
            links = link_maker(request, session)
            tickets.move(
                session, ticket, stage, author=principal.name, message=text, link_for=links
            )
        else:
            tickets.add_update(
                session, ticket, text, visible=action == "update", author=principal.name
            )
        session.commit()
        append_events(session, settings, warehouse.con)
        return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)

    return _page(request, principal, build)
