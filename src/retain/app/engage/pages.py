"""The delivery problems page: ``/engage/outbox``, the dead letters and what was cancelled.

Analysts and admins (who read the API's ``/api/v1/engage/outbox``) see the outbox's counts per
state and, newest first and paged, the messages that failed for good, ran out of tries (dead
letters) or were cancelled before sending, filtered by state, channel and playbook: channel,
recipient, playbook, attempts, last error, when it was queued and last tried. Recipients are
contact details: shown to the roles that may see them (``customers.pii``, an audited read),
hidden from the others, as on the customer pages; a webhook shows its host only to them.

Admins may **retry** a failed or dead message (queued again with a fresh set of tries and no
lease: the next worker claims it with a new token) or **discard** it (it keeps its state and
leaves the list); both are audited like the API's ``POST /api/v1/engage/outbox/{id}/retry`` and
every form carries the login session's CSRF token.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.deps import Principal, SessionDep
from retain.app.web._page import page as _page
from retain.app.web._session import check_csrf, render, require_page
from retain.engage import outbox
from retain.engage._tables import CHANNELS, STATES, DeliveryAttempt, OutboxMessage
from retain.errors import NotFoundError
from retain.i18n import format_datetime, t

__all__ = ["PAGE_SIZE", "VIEWS", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Messages per page."""
VIEWS: dict[str, tuple[str, ...]] = {
    "problems": outbox.PROBLEM_STATES,
    "failed": ("failed",),
    "dead": ("dead",),
    "cancelled": ("cancelled",),
}
"""The page's ``state`` filter: which outbox states each choice lists."""
BASE = "/engage/outbox"

Reader = Annotated[Principal, Depends(require_page(Permission.metrics_read))]
Admin = Annotated[Principal, Depends(require_page(Permission.users_manage))]
Csrf = Annotated[str, Form(max_length=500)]
MessageId = Annotated[str, Path(min_length=1, max_length=64, pattern="^[0-9a-f]+$")]


def _recipient(message: OutboxMessage, pii: bool) -> str | None:
    """The recipient as this reader may see it: whole, a webhook's host, or None (hidden)."""
    if pii:
        return message.recipient
    if message.channel == "webhook":
        return urlsplit(message.recipient).hostname or ""
    return None


_EMAIL = re.compile(r"[^\s<>()\[\]\"',;:@]+@[^\s<>()\[\]\"',;:]+")
_NUMBER = re.compile(r"\+?\d[\d\s().-]{6,}\d")
HIDDEN: Final = "[…]"
"""What stands in an error for a contact detail the reader may not see."""


def shown_error(message: OutboxMessage, pii: bool) -> str:
    """The message's last error as this reader may see it.

    An SMTP refusal or a gateway's answer often quotes the address or number it refused; for
    a role without ``customers.pii`` the recipient, any e-mail address and, for SMS, any run of
    eight or more digits (a phone number) are replaced by :data:`HIDDEN`. SMTP status codes such
    as ``550 5.1.1`` stay.
    """
    text = message.last_error or ""
    if pii or not text:
        return text
    if message.recipient and message.channel != "webhook":
        text = re.sub(re.escape(message.recipient), HIDDEN, text, flags=re.IGNORECASE)
    text = _EMAIL.sub(HIDDEN, text)
    if message.channel == "sms":
        text = _NUMBER.sub(lambda m: HIDDEN if _digits(m.group()) >= 8 else m.group(), text)
    return text


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _last_attempts(session: Session, ids: list[str]) -> dict[str, Any]:
    """When each message was last tried (one grouped query for the page's rows)."""
    if not ids:
        return {}
    rows = session.execute(
        select(DeliveryAttempt.message_id, func.max(DeliveryAttempt.occurred_at))
        .where(DeliveryAttempt.message_id.in_(ids), DeliveryAttempt.outcome != "replied")
        .group_by(DeliveryAttempt.message_id)
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def _when(value: Any) -> str:
    return format_datetime(value, tz="UTC") if value is not None else ""


def _row(message: OutboxMessage, pii: bool, last: Any) -> dict[str, Any]:
    reason = message.cancel_reason
    return {
        "message_id": message.message_id,
        "customer_id": message.customer_id,
        "channel": message.channel,
        "recipient": _recipient(message, pii),
        "playbook": message.playbook or "",
        "state": message.state,
        "reason": t(f"engage_outbox.reason_{reason}") if reason else "",
        "attempts": message.attempts,
        "last_error": shown_error(message, pii),
        "created": _when(message.created_at),
        "last_attempt": _when(last),
        "discarded": _when(message.discarded_at),
        "actionable": message.state in outbox.PROBLEM_STATES,
    }


def _back(target: str) -> str:
    """Where a form returns: this page with its filters, never another site."""
    ours = target == BASE or target.startswith(BASE + "?")
    return target if ours and target.isprintable() else BASE


@router.get(BASE, response_class=HTMLResponse)
def outbox_page(
    request: Request,
    principal: Reader,
    session: SessionDep,
    state: Annotated[str, Query(max_length=20)] = "problems",
    channel: Annotated[str, Query(max_length=20)] = "",
    playbook: Annotated[str, Query(max_length=200)] = "",
    discarded: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=80)] = "",
) -> HTMLResponse:
    """Counts per state, then the chosen messages, newest first, with retry and discard."""

    def build() -> HTMLResponse:
        view = state if state in VIEWS else "problems"
        chan = channel if channel in CHANNELS else ""
        filters: dict[str, Any] = {
            "states": VIEWS[view],
            "channel": chan or None,
            "playbook": playbook.strip() or None,
            "discarded": discarded,
        }
        total = outbox.problem_count(session, **filters)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(page, pages)
        rows = outbox.problems(session, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, **filters)
        pii = principal.may(Permission.customers_pii)
        last = _last_attempts(session, [r.message_id for r in rows])
        shown = [_row(r, pii, last.get(r.message_id)) for r in rows]
        if pii and shown:
            audit.record_read(
                session,
                principal,
                "engage.outbox_read",
                ("outbox", ""),
                rows=len(shown),
                fields=["recipient"],
            )
        query = {"state": view, "channel": chan, "playbook": playbook.strip()}
        if discarded:
            query["discarded"] = "true"
        here = f"{BASE}?{urlencode({**query, 'page': number})}"
        playbooks = sorted(
            p
            for p in session.scalars(
                select(OutboxMessage.playbook)
                .where(OutboxMessage.state.in_([*outbox.PROBLEM_STATES, "cancelled"]))
                .distinct()
            )
            if p
        )
        return render(
            request,
            "engage_outbox.html",
            principal=principal,
            title_key="engage_outbox.page_title",
            counts=outbox.counts(session),
            states=STATES,
            views=list(VIEWS),
            channels=CHANNELS,
            playbooks=playbooks,
            view=view,
            channel=chan,
            playbook=playbook.strip(),
            discarded=discarded,
            rows=shown,
            total=total,
            page_number=number,
            pages=pages,
            pager_base=f"{BASE}?{urlencode(query)}&",
            here=here,
            pii=pii,
            can_act=principal.may(Permission.users_manage),
            done=done if done in ("retried", "discarded") else "",
            done_id=request.query_params.get("id", "")[:64],
        )

    return _page(request, principal, build)


def _act(
    request: Request,
    principal: Principal,
    session: Session,
    message_id: str,
    csrf: str,
    back: str,
    *,
    retry: bool,
) -> Response:
    def build() -> Any:
        check_csrf(principal, csrf)
        changed = (
            outbox.requeue(session, message_id) if retry else outbox.discard(session, message_id)
        )
        if not changed:
            key = "engage.not_requeueable" if retry else "engage_outbox.not_discardable"
            raise NotFoundError(t(key, id=message_id), code="engage.not_found")
        action = "engage.requeue" if retry else "engage.discard"
        audit.record(session, principal, action, ("outbox_message", message_id), via="dashboard")
        target = _back(back)
        sep = "&" if "?" in target else "?"
        done = urlencode({"done": "retried" if retry else "discarded", "id": message_id})
        return RedirectResponse(f"{target}{sep}{done}", status_code=303)

    return _page(request, principal, build)


@router.post(BASE + "/{message_id}/retry", response_class=HTMLResponse, response_model=None)
def retry_page(
    request: Request,
    principal: Admin,
    session: SessionDep,
    message_id: MessageId,
    csrf: Csrf = "",
    back: Annotated[str, Form(max_length=500)] = BASE,
) -> Response:
    """Queue a failed or dead message again with a fresh set of tries (audited)."""
    return _act(request, principal, session, message_id, csrf, back, retry=True)


@router.post(BASE + "/{message_id}/discard", response_class=HTMLResponse, response_model=None)
def discard_page(
    request: Request,
    principal: Admin,
    session: SessionDep,
    message_id: MessageId,
    csrf: Csrf = "",
    back: Annotated[str, Form(max_length=500)] = BASE,
) -> Response:
    """Take a failed or dead message off the list for good (audited); it keeps its state."""
    return _act(request, principal, session, message_id, csrf, back, retry=False)
