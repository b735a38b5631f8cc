"""The complaint API, save-desk rates, and the customer's ticket status page (no login).

- ``POST /api/v1/tickets`` opens tickets (idempotent on ``ticket_id``), with per-record errors;
  ``POST /api/v1/tickets/{id}/stage`` moves one; ``GET /api/v1/tickets/{id}`` reads one.
- ``POST /api/v1/savedesk/intake`` queues the cancellations whose customer accepted a call,
  each with the offer planner's action for the customer (the plan for ``budget``, else the
  service's own plan; outside the plan, the reason's fallback), gives unworked open cases still
  showing a fallback the plan's action, and routes the open cases to the active agent users
  (:func:`retain.app.voice_cases.intake.run_intake`, also behind the dashboard's button).
- ``GET /api/v1/savedesk/rates`` reports save rates with Wilson intervals.
- ``/t/{token}``: the status page a signed, expiring link opens, in the ticket's language
  (``?lang=`` overrides), showing the stage and the customer-visible updates only.

Links are signed with the service secret under a key derived for this purpose, so a status
link is no cookie and no survey link. Appending to the warehouse is best effort: a busy
warehouse leaves events ``logged = false`` for the next append.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from retain.app._openapi import UtcDateTime
from retain.app.auth import service as auth
from retain.app.customers import access
from retain.app.deps import (
    AnalystOnly,
    CanIngest,
    CanReadCustomers,
    IdPath,
    LockedWarehouseDep,
    Principal,
    SessionDep,
    SettingsDep,
    request_language,
)
from retain.app.voice_cases.intake import run_intake
from retain.app.web._render import environment
from retain.config import Settings
from retain.errors import NotFoundError, RetainError
from retain.i18n import LANGUAGES, language, normalize_language, t
from retain.voice import savedesk, tickets
from retain.voice._case_tables import SaveDeskTask, Ticket, TicketUpdate

__all__ = ["LINK_DAYS", "link_maker", "router", "status_secret", "status_url"]

log = logging.getLogger(__name__)
router = APIRouter()

#: How long a status link works.
LINK_DAYS = 30


def status_secret(request: Request, session: Session) -> bytes:
    """The status links' HMAC key: derived from the service secret for this one purpose."""
    cached = getattr(request.app.state, "cookie_secret", None)
    if cached is None:
        cached = auth.service_secret(session, request.app.state.settings.service.secret_key)
        request.app.state.cookie_secret = cached
    return hmac.new(str(cached).encode(), b"retain.ticket-status", hashlib.sha256).digest()


def status_url(request: Request, session: Session, ticket_id: int) -> str:
    """The path of ticket ``ticket_id``'s status page, valid for :data:`LINK_DAYS` days."""
    expires = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=LINK_DAYS)
    token = tickets.sign_status_token(status_secret(request, session), ticket_id, expires)
    return f"/t/{token}"


def link_maker(request: Request, session: Session) -> Callable[[int], str]:
    """Full status-page URLs for the e-mails, under the public URL recipients reach."""
    base = request.app.state.settings.engage.public_url.rstrip("/")
    return lambda ticket_id: base + status_url(request, session, ticket_id)


def append_events(session: Session, settings: Settings, con: Any) -> None:
    """Append ticket events to ``interactions``; a failure leaves them for the next try."""
    try:
        tickets.append_interactions(session, settings, con=con)
    except Exception:
        session.rollback()
        log.warning("ticket events not yet appended to interactions", exc_info=True)


class TicketIn(BaseModel):
    """A ticket to open."""

    customer_id: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=500)
    body: str = Field(default="", max_length=20000)
    category: str = Field(default="general", max_length=100)
    email: str | None = Field(default=None, max_length=320)
    language: str = Field(default="en", max_length=8)
    owner: str | None = Field(default=None, max_length=320)
    ticket_id: str | None = Field(default=None, max_length=200)


class TicketsIn(BaseModel):
    """A batch of tickets."""

    records: list[TicketIn] = Field(max_length=1000)


class TicketOut(BaseModel):
    """A ticket's state."""

    id: int
    ticket_id: str | None
    customer_id: str
    subject: str
    category: str
    stage: str
    owner: str | None
    opened_at: UtcDateTime
    respond_due_at: UtcDateTime
    resolve_due_at: UtcDateTime
    response_breached: bool
    resolution_breached: bool


class RecordError(BaseModel):
    """Why one record was refused."""

    index: int
    message: str


class TicketsOut(BaseModel):
    """What a batch did."""

    accepted: list[TicketOut]
    errors: list[RecordError]


class StageIn(BaseModel):
    """A move to another stage, with the update the customer reads."""

    stage: str = Field(min_length=1, max_length=24)
    message: str = Field(default="", max_length=20000)


class RateOut(BaseModel):
    """A save rate with its Wilson 95% interval."""

    by: str
    group: str
    cases: int
    saved: int
    rate: float
    ci_low: float
    ci_high: float
    random_cases: int


class RatesOut(BaseModel):
    """Save rates of one grouping."""

    rates: list[RateOut]


class IntakeIn(BaseModel):
    """What the intake plans with: a budget for the offer planner (none: the ``[savedesk]`` one)."""

    budget: float | None = Field(default=None, ge=0, le=1e12)
    definition: str | None = Field(default=None, max_length=200)


class CaseOut(BaseModel):
    """A save-desk case as queued and routed."""

    id: int
    kind: str
    customer_id: str
    reason: str
    offer: str
    status: str
    agent: str | None
    routed_randomly: bool


class IntakeOut(BaseModel):
    """The cases the intake queued (new or already queued), re-offered and routed."""

    queued: list[CaseOut]
    updated: list[CaseOut]
    routed: list[CaseOut]


def _out(ticket: Ticket) -> TicketOut:
    return TicketOut(
        id=ticket.id,
        ticket_id=ticket.external_id,
        customer_id=ticket.customer_id,
        subject=ticket.subject,
        category=ticket.category,
        stage=ticket.stage,
        owner=ticket.owner,
        opened_at=ticket.opened_at,
        respond_due_at=ticket.respond_due_at,
        resolve_due_at=ticket.resolve_due_at,
        response_breached=ticket.response_breached,
        resolution_breached=ticket.resolution_breached,
    )


def _get(session: Session, ticket_id: int, principal: Principal) -> Ticket:
    """The ticket; an agent's outside their queue's customers is not found, like a missing one."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not access.may_open(session, principal, ticket.customer_id):
        raise NotFoundError(t("voice_cases.no_ticket", id=ticket_id))
    return ticket


@router.post("/api/v1/tickets", response_model=TicketsOut)
def post_tickets(
    request: Request,
    body: TicketsIn,
    _principal: CanIngest,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
) -> TicketsOut:
    """Open tickets; a refused record is reported by index and the others are kept."""
    accepted: list[TicketOut] = []
    errors: list[RecordError] = []
    links = link_maker(request, session)
    for i, record in enumerate(body.records):
        try:
            ticket = tickets.open_ticket(
                session,
                customer_id=record.customer_id,
                subject=record.subject,
                body=record.body,
                category=record.category,
                email=record.email,
                language=record.language,
                owner=record.owner,
                external_id=record.ticket_id,
                link_for=links,
            )
        except RetainError as err:
            errors.append(RecordError(index=i, message=err.message))
            continue
        accepted.append(_out(ticket))
    session.commit()
    append_events(session, settings, warehouse.con)
    return TicketsOut(accepted=accepted, errors=errors)


@router.get("/api/v1/tickets/{ticket_id}", response_model=TicketOut)
def get_ticket(ticket_id: IdPath, principal: CanReadCustomers, session: SessionDep) -> TicketOut:
    """One ticket's stage and SLA clocks."""
    tickets.refresh_breaches(session)
    return _out(_get(session, ticket_id, principal))


@router.post("/api/v1/tickets/{ticket_id}/stage", response_model=TicketOut)
def post_stage(
    request: Request,
    ticket_id: IdPath,
    body: StageIn,
    principal: CanReadCustomers,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
) -> TicketOut:
    """Move a ticket (422 for a move the stages do not allow) and e-mail the customer."""
    ticket = _get(session, ticket_id, principal)
    tickets.move(
        session,
        ticket,
        body.stage,
        author=principal.name,
        message=body.message,
        link_for=link_maker(request, session),
    )
    session.commit()
    append_events(session, settings, warehouse.con)
    return _out(ticket)


def _case(task: SaveDeskTask) -> CaseOut:
    return CaseOut(
        id=task.id,
        kind=task.kind,
        customer_id=task.customer_id,
        reason=task.reason,
        offer=task.offer,
        status=task.status,
        agent=task.agent,
        routed_randomly=task.routed_randomly,
    )


@router.post("/api/v1/savedesk/intake", response_model=IntakeOut, tags=["savedesk"])
def post_intake(
    request: Request,
    body: IntakeIn,
    principal: AnalystOnly,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
) -> IntakeOut:
    """Queue the cancellations that asked for a call and route open cases to the agents.

    With ``budget``, the offer planner's plan for that budget (the one ``GET /api/v1/plan``
    answers); without, the plan the hosted cancellation page offers from. New cases show the
    plan's action for their customer, and open cases an agent has not worked that still show
    their reason's fallback get it too (``updated``); a customer the plan does not target gets
    the reason's fallback. The dashboard's **Route open cases** button does the same.
    """
    done = run_intake(
        request,
        session,
        warehouse,
        settings,
        principal,
        budget=body.budget,
        definition=body.definition,
    )
    return IntakeOut(
        queued=[_case(t) for t in done.queued],
        updated=[_case(t) for t in done.updated],
        routed=[_case(t) for t in done.routed],
    )


@router.get("/api/v1/savedesk/rates", response_model=RatesOut)
def get_rates(_principal: AnalystOnly, session: SessionDep, by: str = "agent") -> RatesOut:
    """Save rates per agent, reason or offer with Wilson 95% intervals."""
    return RatesOut(rates=[RateOut(**vars(r)) for r in savedesk.rates(session, by=by)])


@router.get("/t/{token}", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    """The customer's view of their ticket; a forged or expired link gets 410 and no details.

    The page speaks ``?lang=``, else the ticket's language; a refused link the browser's.
    """
    chosen = request.query_params.get("lang")
    ticket_id = tickets.verify_status_token(status_secret(request, session), token)
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    lang: str
    if chosen in LANGUAGES:
        lang = normalize_language(chosen)
    elif ticket is not None:
        lang = normalize_language(ticket.language)
    else:  # a refused link names no ticket: the browser's language
        lang = request_language(request)
    context: dict[str, Any] = {"lang": lang, "ticket": ticket, "stages": tickets.STAGES}
    if ticket is not None:
        context["updates"] = session.scalars(
            select(TicketUpdate)
            .where(TicketUpdate.ticket_id == ticket.id, TicketUpdate.visible.is_(True))
            .order_by(TicketUpdate.occurred_at, TicketUpdate.id)
        ).all()
    with language(lang):
        html = environment().get_template("ticket_status.html").render(**context)
    status = 200 if ticket is not None else 410
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
