"""The unsubscribe page and the delivery views of the API (dead letters, scheduled job runs).

The dashboard's delivery problems page lives in :mod:`retain.app.engage.pages` and the SMS
gateway's replies in :mod:`retain.app.engage.inbound`; both are served through this router.

``/unsubscribe/{token}`` is open to anyone holding a link: the token is HMAC-signed
(:mod:`retain.engage.suppression`), so it names one address and cannot be forged. ``GET`` asks
for confirmation (mail scanners follow links; a GET never unsubscribes); ``POST`` — the page's
button, or a mailbox provider's one-click ``List-Unsubscribe=One-Click`` — puts the address on
the suppression list and says so.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from retain.app._openapi import UtcDateTime
from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.deps import AdminOnly, AnalystOnly, SessionDep, SettingsDep
from retain.app.engage.inbound import router as inbound_router
from retain.app.engage.pages import router as pages_router
from retain.app.engage.pages import shown_error
from retain.engage import outbox, suppression
from retain.engage._tables import CHANNELS, OutboxMessage
from retain.engage.schedule import recent_runs
from retain.errors import NotFoundError
from retain.i18n import get_language, t

__all__ = ["router"]

router = APIRouter(tags=["engage"])
router.include_router(pages_router)
router.include_router(inbound_router)

MessageIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern="^[0-9a-f]+$")]


class OutboxProblem(BaseModel):
    """A message that failed for good, ran out of tries, or was cancelled (no recipient: PII)."""

    message_id: str
    customer_id: str
    channel: str
    playbook: str | None
    state: str
    cancel_reason: str | None
    attempts: int
    last_error: str | None
    created_at: UtcDateTime
    discarded_at: UtcDateTime | None


class OutboxStatus(BaseModel):
    """Messages per state, and the latest failed and dead ones (the dead-letter view).

    ``cancelled`` messages were withdrawn before sending (``cancel_reason`` says why) and are
    not failures; ``?state=cancelled`` lists them instead of the dead letters.
    """

    counts: dict[str, int]
    total: int
    problems: list[OutboxProblem]


class Requeued(BaseModel):
    """A failed or dead message queued again with a fresh set of tries (or discarded)."""

    message_id: str
    state: str


_VIEWS = {"problems": outbox.PROBLEM_STATES, "failed": ("failed",), "dead": ("dead",)}
_VIEWS["cancelled"] = ("cancelled",)
StateQuery = Annotated[str, Query(pattern="^(problems|failed|dead|cancelled)$")]
ChannelQuery = Annotated[str | None, Query(pattern=f"^({'|'.join(CHANNELS)})$")]


@router.get("/api/v1/engage/outbox", response_model=OutboxStatus)
def outbox_status(
    principal: AnalystOnly,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    state: StateQuery = "problems",
    channel: ChannelQuery = None,
    playbook: Annotated[str | None, Query(max_length=200)] = None,
    discarded: bool = False,
) -> OutboxStatus:
    """How delivery goes: counts per state and the dead letters (or the cancelled messages)."""
    filters: dict[str, Any] = {
        "states": _VIEWS[state],
        "channel": channel,
        "playbook": playbook or None,
        "discarded": discarded,
    }
    rows = outbox.problems(session, limit=limit, offset=offset, **filters)
    return OutboxStatus(
        counts=outbox.counts(session),
        total=outbox.problem_count(session, **filters),
        problems=[
            OutboxProblem(
                message_id=r.message_id,
                customer_id=r.customer_id,
                channel=r.channel,
                playbook=r.playbook,
                state=r.state,
                cancel_reason=r.cancel_reason,
                attempts=r.attempts,
                last_error=shown_error(r, principal.may(Permission.customers_pii)) or None,
                created_at=r.created_at,
                discarded_at=r.discarded_at,
            )
            for r in rows
        ],
    )


class JobRunPublic(BaseModel):
    """One try of a scheduled job."""

    job: str
    slot: UtcDateTime
    attempt: int
    state: str
    worker: str
    started_at: UtcDateTime
    finished_at: UtcDateTime | None
    retry_at: UtcDateTime | None
    detail: str | None


class JobRunsPublic(BaseModel):
    """The latest runs of the scheduled jobs, newest first."""

    data: list[JobRunPublic]


@router.get("/api/v1/engage/jobs", response_model=JobRunsPublic)
def job_runs(
    _: AnalystOnly,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobRunsPublic:
    """What the scheduled jobs did: each try with its outcome, failures first to see."""
    return JobRunsPublic(
        data=[
            JobRunPublic(
                job=r.job,
                slot=r.slot,
                attempt=r.attempt,
                state=r.state,
                worker=r.worker,
                started_at=r.started_at,
                finished_at=r.finished_at,
                retry_at=r.retry_at,
                detail=r.detail,
            )
            for r in recent_runs(session, limit)
        ]
    )


@router.post("/api/v1/engage/outbox/{message_id}/retry", response_model=Requeued)
def retry_message(admin: AdminOnly, session: SessionDep, message_id: MessageIdPath) -> Requeued:
    """Queue a failed or dead message again (after fixing the receiver or the address)."""
    if not outbox.requeue(session, message_id):
        raise NotFoundError(t("engage.not_requeueable", id=message_id), code="engage.not_found")
    audit.record(session, admin, "engage.requeue", ("outbox_message", message_id))
    return Requeued(message_id=message_id, state="queued")


@router.post("/api/v1/engage/outbox/{message_id}/discard", response_model=Requeued)
def discard_message(admin: AdminOnly, session: SessionDep, message_id: MessageIdPath) -> Requeued:
    """Take a failed or dead message off the dead-letter list for good (it keeps its state)."""
    if not outbox.discard(session, message_id):
        raise NotFoundError(
            t("engage_outbox.not_discardable", id=message_id), code="engage.not_found"
        )
    audit.record(session, admin, "engage.discard", ("outbox_message", message_id))
    state = session.scalar(
        select(OutboxMessage.state).where(OutboxMessage.message_id == message_id)
    )
    return Requeued(message_id=message_id, state=str(state))


def _page(body: str, status_code: int = 200) -> HTMLResponse:
    lang = get_language()
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(t('engage.unsubscribe_title'))}</title></head>"
        f"<body><main><h1>{escape(t('engage.unsubscribe_title'))}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _invalid() -> HTMLResponse:
    return _page(f"<p>{escape(t('engage.unsubscribe_invalid'))}</p>", status_code=400)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_page(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Ask the recipient to confirm (nothing changes on GET)."""
    key = await run_in_threadpool(suppression.signing_key, session, settings.engage.signing_secret)
    who = suppression.read_token(key, token)
    if who is None:
        return _invalid()
    question = escape(t("engage.unsubscribe_confirm", address=who.address))
    button = escape(t("engage.unsubscribe_button"))
    return _page(
        f'<p>{question}</p><form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{button}</button></form>'
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Suppress the address (the page's button, or an RFC 8058 one-click POST)."""

    def apply() -> str | None:
        key = suppression.signing_key(session, settings.engage.signing_secret)
        who = suppression.read_token(key, token)
        if who is None:
            return None
        suppression.suppress(session, who.address, "unsubscribe", customer_id=who.customer_id)
        session.commit()
        return who.address

    address = await run_in_threadpool(apply)
    if address is None:
        return _invalid()
    return _page(f"<p>{escape(t('engage.unsubscribe_done', address=address))}</p>")
