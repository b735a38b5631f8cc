"""Survey and cancellation pages for customers (no login), and the surveys API.

- ``/s/{token}``: the survey an invitation link opens, in the invitation's language; ``POST``
  accepts one answer (:func:`retain.voice.surveys.answer`) and appends it to ``interactions``.
- ``/cancel/{token}``: the hosted cancellation flow (:mod:`retain.voice.cancel`): the reason,
  then the offer the service's plan recommends (:mod:`retain.app.surveys.offers`, else the
  reason's fallback), then ``/cancel/{token}/decide`` records saved or cancelled and why.
- ``/api/v1/surveys/invitations`` and ``/api/v1/surveys/cancel-links`` create links (analysts);
  ``/api/v1/surveys/responses.csv`` exports answers with formula-like text neutralised.

Links are signed with the service secret (the configured ``service.secret_key`` or the one the
app generated, :func:`retain.app.auth.service.service_secret`) under a key derived per purpose.
A refused link shows why (forged, expired, already used) with status 400, 410 or 409. Appending
to the warehouse is best effort: a busy warehouse leaves the answer ``logged = false`` for the
next append (``retain surveys flush``), the answer itself is already committed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from retain.app._openapi import error_responses
from retain.app.audit import service as audit
from retain.app.auth import service as auth
from retain.app.deps import (
    AnalystOnly,
    CanExport,
    LockedWarehouse,
    LockedWarehouseDep,
    SessionDep,
    SettingsDep,
)
from retain.app.surveys.offers import ServiceOffers
from retain.app.web._render import environment
from retain.config import Settings
from retain.i18n import LANGUAGES, get_language, language, normalize_language, t
from retain.targeting.export import csv_cell
from retain.voice import cancel, surveys
from retain.voice._survey_tables import SurveyResponse
from retain.voice.links import LinkError
from retain.voice.nps_report import COLUMNS, nps_report, parse_since

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter()

_STATUS = {"forged": 400, "unknown": 400, "expired": 410, "used": 409}
CSV_COLUMNS = ("response_id", "survey", "customer_id", "score", "comment", "answered_at")


def _secret(request: Request, session: Session) -> str:
    cached = getattr(request.app.state, "cookie_secret", None)
    if cached is None:
        cached = auth.service_secret(session, request.app.state.settings.service.secret_key)
        request.app.state.cookie_secret = cached
    return str(cached)


def _html(template: str, lang: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    with language(lang):
        html = environment().get_template(template).render(lang=lang, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _refused(template: str, lang: str, err: LinkError) -> HTMLResponse:
    """Why a link was refused, in the request's language (``?lang=``, cookie, Accept-Language)."""
    with language(lang):
        message = t(f"voice_surveys.link_{err.reason}")
    return _html(template, lang, _STATUS.get(err.reason, 400), refused=message)


def _lang(request: Request, fallback: str = "en") -> str:
    chosen = request.query_params.get("lang")
    return normalize_language(chosen if chosen in LANGUAGES else fallback)


def _survey_context(session: Session, secret: str, token: str) -> dict[str, Any]:
    invitation, survey = surveys.open_invitation(session, secret, token)
    return {
        "kind": survey.kind,
        "scale": surveys.SCALES.get(survey.kind),
        "questions": [str(q) for q in json.loads(survey.questions or "[]")],
        "language": invitation.language,
    }


@router.get("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
def survey_page(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    """The survey of a genuine, unexpired, unanswered invitation, in its language."""
    try:
        ctx = _survey_context(session, _secret(request, session), token)
    except LinkError as err:
        return _refused("survey.html", get_language(), err)
    return _html("survey.html", _lang(request, ctx["language"]), **ctx)


@router.post("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
async def survey_answer(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
) -> HTMLResponse:
    """Accept the answer once, then append it to ``interactions`` (best effort)."""
    form = await request.form()
    secret = _secret(request, session)
    raw = str(form.get("score") or "").strip()
    score = int(raw) if raw.lstrip("-").isdigit() else None
    answers = {k: str(v) for k, v in form.items() if k.startswith("q") and k[1:].isdigit()}
    comment = str(form.get("comment") or "")
    try:
        ctx = _survey_context(session, secret, token)
        surveys.answer(session, secret, token, score=score, comment=comment, answers=answers)
    except LinkError as err:
        return _refused("survey.html", get_language(), err)
    except surveys.AnswerError as err:
        lang = _lang(request, ctx["language"])
        low, high = ctx["scale"] or (0, 0)
        with language(lang):
            ctx["error"] = t("voice_surveys.bad_score", low=low, high=high) if ctx["scale"] else ""
        log.info("survey answer refused: %s", err.message)
        return _html("survey.html", lang, 422, **ctx)
    await run_in_threadpool(_append_answers, session, settings, warehouse.con)
    return _html("survey.html", _lang(request, ctx["language"]), done=True)


def _append_answers(session: Session, settings: Settings, con: Any) -> None:
    try:
        surveys.append_interactions(session, settings, con=con)
    except Exception:
        session.rollback()
        log.warning("survey answers not yet appended to interactions", exc_info=True)


def _offer_source(request: Request, warehouse: LockedWarehouse) -> cancel.OfferSource | None:
    """The planner's offers (``app.state.voice_offer_source``, the service's plan by default)."""
    source = getattr(request.app.state, "voice_offer_source", None)
    if isinstance(source, ServiceOffers):
        return source.for_warehouse(warehouse)
    return source if callable(source) else None


@router.get("/cancel/{token}", response_class=HTMLResponse, include_in_schema=False)
def cancel_page(
    request: Request, token: str, session: SessionDep, warehouse: LockedWarehouseDep
) -> HTMLResponse:
    """Ask the reason (or, once stated, show the offer)."""
    try:
        claims, record = cancel.open_cancellation(session, _secret(request, session), token)
    except LinkError as err:
        return _refused("cancel.html", get_language(), err)
    lang = _lang(request, claims.language)
    if record is not None and record.reason is not None:
        source = _offer_source(request, warehouse)
        offer = cancel.choose_offer(claims.customer_id, record.reason, source)
        return _html("cancel.html", lang, offer=offer, action=f"/cancel/{token}/decide")
    return _html("cancel.html", lang, reasons=cancel.REASONS)


@router.post("/cancel/{token}", response_class=HTMLResponse, include_in_schema=False)
def cancel_reason(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    reason: Annotated[str, Form(max_length=40)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> HTMLResponse:
    """Record the stated reason (an ``exit_survey`` interaction) and show the offer."""
    secret = _secret(request, session)
    try:
        claims, _ = cancel.open_cancellation(session, secret, token)
        record = cancel.state_reason(session, secret, token, reason=reason, comment=comment)
    except LinkError as err:
        return _refused("cancel.html", get_language(), err)
    except cancel.CancelError:
        lang = _lang(request, claims.language)
        with language(lang):
            error = t("voice_surveys.bad_reason", reason=reason, allowed="")
        return _html("cancel.html", lang, 422, reasons=cancel.REASONS, error=error)
    offer = cancel.choose_offer(claims.customer_id, reason, _offer_source(request, warehouse))
    _append_exit(session, settings, record.id, warehouse.con)
    lang = _lang(request, claims.language)
    return _html("cancel.html", lang, offer=offer, action=f"/cancel/{token}/decide")


@router.post("/cancel/{token}/decide", response_class=HTMLResponse, include_in_schema=False)
def cancel_decide(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    offer: Annotated[str, Form(max_length=40)] = "",
    choice: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    """Record saved (offer accepted) or cancelled; only the offer the page made is accepted."""
    secret = _secret(request, session)
    try:
        claims, record = cancel.open_cancellation(session, secret, token)
        stated = record.reason if record is not None else None
        source = _offer_source(request, warehouse)
        made = cancel.choose(claims.customer_id, stated or "", source)
        if stated is None or offer != made.offer:
            raise LinkError("unknown")
        done = cancel.decide(
            session, secret, token, accepted=choice == "accept", offer=offer, basis=made
        )
    except LinkError as err:
        return _refused("cancel.html", get_language(), err)
    _append_exit(session, settings, done.id, warehouse.con)
    lang = _lang(request, claims.language)
    return _html("cancel.html", lang, outcome=done.outcome, offer=done.offer)


def _append_exit(session: Session, settings: Settings, record_id: int, con: Any) -> None:
    try:
        cancel.append_interactions(session, settings, [record_id], con=con)
    except Exception:
        session.rollback()
        log.warning("exit survey not yet appended to interactions", exc_info=True)


class InvitationIn(BaseModel):
    """An invitation to create: the survey (nps, csat, ces or a defined one) and the customer."""

    survey: str = Field(min_length=1, max_length=100)
    customer_id: str = Field(min_length=1, max_length=200)
    language: str = Field(default="en", pattern="^(en|ja|ko)$")
    ttl_days: float = Field(default=14, gt=0, le=90)


class LinkOut(BaseModel):
    """A signed link: the token and the path to open (prefix it with the service's address)."""

    token: str
    path: str


class CancelLinkIn(BaseModel):
    """A cancellation link for the company's site: the customer and the page language."""

    customer_id: str = Field(min_length=1, max_length=200)
    language: str = Field(default="en", pattern="^(en|ja|ko)$")


@router.post(
    "/api/v1/surveys/invitations",
    response_model=LinkOut,
    tags=["surveys"],
    responses=error_responses(404),
)
def create_invitation(
    request: Request, body: InvitationIn, principal: AnalystOnly, session: SessionDep
) -> LinkOut:
    """Create a survey invitation and return its signed, expiring link."""
    inv = surveys.invite(
        session,
        _secret(request, session),
        survey=body.survey,
        customer_id=body.customer_id,
        language=body.language,
        ttl=dt.timedelta(days=body.ttl_days),
    )
    audit.record(session, principal, "surveys.invite", ("survey_invitation", inv.invitation_id))
    session.commit()
    return LinkOut(token=inv.token, path=f"/s/{inv.token}")


@router.post("/api/v1/surveys/cancel-links", response_model=LinkOut, tags=["surveys"])
def create_cancel_link(
    request: Request, body: CancelLinkIn, _principal: AnalystOnly, session: SessionDep
) -> LinkOut:
    """A signed link to the hosted cancellation page for one subscription customer."""
    token = cancel.cancel_link(_secret(request, session), body.customer_id, language=body.language)
    return LinkOut(token=token, path=f"/cancel/{token}")


class NpsFigure(BaseModel):
    """One NPS figure: points in [-100, 100], its 95 % interval and the counts behind it."""

    nps: float | None
    ci_low: float | None
    ci_high: float | None
    responses: int
    promoters: int
    passives: int
    detractors: int


class NpsGroup(NpsFigure):
    """The figure of one group: its key (``by``'s value and/or ``period``)."""

    group: dict[str, str]


class NpsAnswer(BaseModel):
    """NPS overall and per group (empty unless ``by`` or ``over`` was given)."""

    survey: str
    overall: NpsFigure
    groups: list[NpsGroup]


@router.get("/api/v1/surveys/nps", response_model=NpsAnswer, tags=["surveys"])
def nps_results(
    _principal: AnalystOnly,
    warehouse: LockedWarehouseDep,
    survey: Annotated[str, Query(min_length=1, max_length=100)] = "nps",
    by: Annotated[str | None, Query(max_length=100)] = None,
    over: Annotated[Literal["week", "month", "quarter"] | None, Query()] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
) -> NpsAnswer:
    """NPS with its interval, each customer's latest answer once, by attribute or over time."""
    report = nps_report(warehouse.con, survey=survey, since=parse_since(since), by=by, over=over)
    groups = (
        [
            NpsGroup(
                group={k: str(row[k]) for k in report.keys},
                **{c: (None if pd.isna(row[c]) else row[c]) for c in COLUMNS},
            )
            for row in report.rows.to_dict("records")
        ]
        if report.keys
        else []
    )
    return NpsAnswer(survey=survey, overall=NpsFigure(**report.overall.as_dict()), groups=groups)


@router.get("/api/v1/surveys/responses.csv", response_class=Response, tags=["surveys"])
def responses_csv(principal: CanExport, session: SessionDep, survey: str | None = None) -> Response:
    """Every accepted answer as CSV; text a spreadsheet would run as a formula is neutralised."""
    query = select(SurveyResponse).order_by(SurveyResponse.id)
    if survey:
        query = query.where(SurveyResponse.survey == survey)
    rows = session.scalars(query).all()
    audit.record(session, principal, "surveys.export", ("survey", survey or "*"), rows=len(rows))
    session.commit()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        values = (r.id, r.survey, r.customer_id, r.score, r.comment, r.answered_at)
        writer.writerow([csv_cell(v) for v in values])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="survey-responses.csv"'},
    )
