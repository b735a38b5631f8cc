"""Complaints and tickets: stages, SLA clocks, customer status links and the e-mail at each stage.

A ticket moves received -> investigating -> waiting_for_customer -> resolved -> closed (with the
reopening moves in :data:`TRANSITIONS`); any other move is refused. Each ticket carries two SLA
clocks: the first response (leaving ``received``) and the resolution. A clock that runs out
sets a breach flag that stays set. Each stage change queues an e-mail to the customer in the
engage outbox, in the same transaction, and is kept as an event that
:func:`append_interactions` copies into the warehouse's ``interactions`` (``complaint`` at
opening, ``ticket_stage`` at every change and ``ticket_resolved`` at resolution), which is what
the churn features count as open complaints and time to resolve.

The customer's status page is reached by a signed link: the ticket id and an expiry time under
an HMAC-SHA256 with the app's secret, so it can be neither forged nor used after it expires.
This module takes the secret as bytes; the app reads it from its own store.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.config import Settings
from retain.engage import outbox
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.ingest.append import Interaction
from retain.ingest.append import append_interactions as append_to_warehouse
from retain.targeting.export import csv_cell
from retain.voice._case_tables import STAGES, Ticket, TicketUpdate

__all__ = [
    "STAGES",
    "TRANSITIONS",
    "Sla",
    "add_update",
    "append_interactions",
    "export_csv",
    "import_file",
    "move",
    "open_ticket",
    "refresh_breaches",
    "sign_status_token",
    "verify_status_token",
]

#: The moves a ticket may make from each stage; ``closed`` is final.
TRANSITIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "received": ("investigating", "waiting_for_customer", "resolved"),
    "investigating": ("waiting_for_customer", "resolved"),
    "waiting_for_customer": ("investigating", "resolved"),
    "resolved": ("closed", "investigating"),
    "closed": (),
}

_LANGUAGES: Final = ("en", "ja", "ko")


@dataclass(frozen=True)
class Sla:
    """How long a ticket may wait for its first response and for its resolution."""

    respond_hours: float = 24.0
    resolve_hours: float = 120.0


def open_ticket(
    session: Session,
    *,
    customer_id: str,
    subject: str,
    body: str = "",
    category: str = "general",
    email: str | None = None,
    language: str = "en",
    owner: str | None = None,
    external_id: str | None = None,
    opened_at: dt.datetime | None = None,
    sla: Sla | None = None,
    link_for: Callable[[int], str] | None = None,
) -> Ticket:
    """Record a new ticket in ``received`` and queue the customer's acknowledgement e-mail.

    With ``external_id`` the call is idempotent: a second call returns the first ticket.
    ``link_for`` gives the status page's URL for a ticket id, written into each e-mail.
    """
    if not customer_id or not subject.strip():
        raise InvalidParameterError(t("voice_cases.bad_ticket"))
    if external_id is not None:
        existing = session.scalar(select(Ticket).where(Ticket.external_id == external_id))
        if existing is not None:
            return existing
    sla = sla or Sla()
    at = opened_at or utcnow()
    ticket = Ticket(
        external_id=external_id,
        customer_id=customer_id,
        subject=subject.strip()[:500],
        body=body,
        category=category or "general",
        stage="received",
        owner=owner,
        email=email or None,
        language=language if language in _LANGUAGES else "en",
        opened_at=at,
        respond_due_at=at + dt.timedelta(hours=sla.respond_hours),
        resolve_due_at=at + dt.timedelta(hours=sla.resolve_hours),
        response_breached=False,
        resolution_breached=False,
        updated_at=at,
    )
    session.add(ticket)
    session.flush()
    session.add(
        TicketUpdate(
            ticket_id=ticket.id,
            customer_id=customer_id,
            kind="opened",
            stage="received",
            body="",
            visible=True,
            author=owner,
            occurred_at=at,
            logged=False,
        )
    )
    _notify(session, ticket, "received", link_for=link_for)
    return ticket


def move(
    session: Session,
    ticket: Ticket,
    stage: str,
    *,
    author: str | None = None,
    message: str = "",
    at: dt.datetime | None = None,
    link_for: Callable[[int], str] | None = None,
) -> TicketUpdate:
    """Move ``ticket`` to ``stage`` if :data:`TRANSITIONS` allows it; e-mail the customer."""
    if stage not in TRANSITIONS.get(ticket.stage, ()):
        raise InvalidParameterError(
            t("voice_cases.bad_move", current=ticket.stage, stage=stage),
            hint=t("voice_cases.bad_move_hint", allowed=", ".join(TRANSITIONS[ticket.stage])),
        )
    now = at or utcnow()
    _check_breaches(ticket, now)
    if ticket.responded_at is None:
        ticket.responded_at = now
        ticket.response_breached = ticket.response_breached or now > ticket.respond_due_at
    if stage == "resolved":
        ticket.resolved_at = now
        ticket.resolution_breached = ticket.resolution_breached or now > ticket.resolve_due_at
    elif stage == "closed":
        ticket.closed_at = now
    elif ticket.stage == "resolved":  # reopened: the resolution clock keeps its due time
        ticket.resolved_at = None
    ticket.stage = stage
    ticket.updated_at = now
    update_row = TicketUpdate(
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        kind="stage",
        stage=stage,
        body=message,
        visible=True,
        author=author,
        occurred_at=now,
        logged=False,
    )
    session.add(update_row)
    session.flush()
    key = f"ticket-{ticket.id}-{update_row.id}"
    _notify(session, ticket, stage, message=message, key=key, link_for=link_for)
    return update_row


def add_update(
    session: Session,
    ticket: Ticket,
    body: str,
    *,
    visible: bool,
    author: str | None = None,
    at: dt.datetime | None = None,
) -> TicketUpdate:
    """Add an internal note (``visible=False``) or an update the customer sees on the status page.

    Notes and updates are not stage changes: they queue no e-mail and feed no churn feature.
    """
    if not body.strip():
        raise InvalidParameterError(t("voice_cases.empty_note"))
    row = TicketUpdate(
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        kind="update" if visible else "note",
        stage=None,
        body=body,
        visible=visible,
        author=author,
        occurred_at=at or utcnow(),
        logged=True,  # nothing to append to interactions
    )
    session.add(row)
    session.flush()
    return row


def _check_breaches(ticket: Ticket, now: dt.datetime) -> bool:
    """Set the breach flags whose clock ran out before ``now``; True if one was newly set."""
    changed = False
    if ticket.responded_at is None and now > ticket.respond_due_at and not ticket.response_breached:
        ticket.response_breached = changed = True
    unresolved = ticket.resolved_at is None and ticket.stage != "closed"
    if unresolved and now > ticket.resolve_due_at and not ticket.resolution_breached:
        ticket.resolution_breached = changed = True
    return changed


def refresh_breaches(session: Session, *, at: dt.datetime | None = None) -> int:
    """Flag every open ticket whose SLA ran out; return how many were newly flagged."""
    now = at or utcnow()
    open_rows = session.scalars(select(Ticket).where(Ticket.stage.not_in(("resolved", "closed"))))
    return sum(_check_breaches(ticket, now) for ticket in open_rows)


def _notify(
    session: Session,
    ticket: Ticket,
    stage: str,
    *,
    message: str = "",
    key: str | None = None,
    link_for: Callable[[int], str] | None = None,
) -> None:
    """Queue the stage e-mail (transactional, not advertising) if the ticket has an address."""
    if not ticket.email:
        return
    lang = ticket.language
    stage_name = t(f"voice_cases.stage_{stage}", lang=lang)
    body = t("voice_cases.mail_body", lang=lang, subject=ticket.subject, stage=stage_name)
    if message:
        body = f"{body}\n\n{message}"
    if link_for is not None:
        body = f"{body}\n\n{t('voice_cases.mail_link', lang=lang, url=link_for(ticket.id))}"
    outbox.enqueue(
        session,
        customer_id=ticket.customer_id,
        channel="email",
        recipient=ticket.email,
        payload={
            "subject": t("voice_cases.mail_subject", lang=lang, number=ticket.id, stage=stage_name),
            "body": body,
            "ticket_id": ticket.id,
            "stage": stage,
        },
        idempotency_key=key or f"ticket-{ticket.id}-opened",
        language=lang,
        advertising=False,
        campaign_id=f"ticket-{stage}",
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign_status_token(secret: bytes, ticket_id: int, expires_at: dt.datetime) -> str:
    """A status-page token for ``ticket_id`` valid until ``expires_at`` (naive UTC)."""
    if not secret:
        raise InvalidParameterError(t("voice_cases.no_secret"))
    claim = f"{ticket_id}.{int(expires_at.replace(tzinfo=dt.UTC).timestamp())}"
    mac = hmac.new(secret, f"ticket-status:{claim}".encode(), hashlib.sha256).digest()
    return f"{claim}.{_b64(mac)}"


def verify_status_token(secret: bytes, token: str, *, at: dt.datetime | None = None) -> int | None:
    """The ticket id ``token`` grants, or None if it is forged, malformed or expired."""
    parts = token.split(".")
    if len(parts) != 3 or not secret or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    claim = f"{parts[0]}.{parts[1]}"
    mac = hmac.new(secret, f"ticket-status:{claim}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(_b64(mac), parts[2]):
        return None
    now = (at or utcnow()).replace(tzinfo=dt.UTC).timestamp()
    if now >= int(parts[1]):
        return None
    return int(parts[0])


_SUFFIX: Final = {"complaint": "complaint", "ticket_stage": "stage", "ticket_resolved": "resolved"}


def _ticket_row(event: TicketUpdate, kind: str, properties: dict[str, Any]) -> Interaction:
    """One interaction of a ticket event, keyed ``ticket-<event id>-<complaint|stage|resolved>``."""
    return Interaction(
        interaction_id=f"ticket-{event.id}-{_SUFFIX[kind]}",
        customer_id=event.customer_id,
        occurred_at=event.occurred_at,
        kind=kind,
        channel="support",
        properties=properties,
    )


def append_interactions(
    session: Session, settings: Settings, *, con: Any = None, limit: int = 5000
) -> int:
    """Copy ticket events not yet logged into the warehouse's ``interactions``; return how many.

    Ids are derived from the event (``ticket-<event id>-<kind>``), so re-appending after a crash
    replaces rather than duplicates (the ``complaint`` row carries the subject and body as
    ``properties.text``). ``con`` is an open warehouse connection to write through
    (the app's, which holds DuckDB's single writer); without it one is opened. An opening is
    ``complaint``; a stage change is ``ticket_stage``, and a move to ``resolved`` also yields
    ``ticket_resolved``, which the churn features pair with the opening (same ``ticket_id``)
    for time to resolve.
    """
    pending = session.scalars(
        select(TicketUpdate)
        .where(TicketUpdate.logged.is_(False))
        .order_by(TicketUpdate.id)
        .limit(limit)
    ).all()
    if not pending:
        return 0
    tickets = {
        tk.id: tk
        for tk in session.scalars(
            select(Ticket).where(Ticket.id.in_({r.ticket_id for r in pending}))
        )
    }
    rows: list[Interaction] = []
    for event in pending:
        ticket = tickets.get(event.ticket_id)
        category = ticket.category if ticket is not None else ""
        props = {"ticket_id": str(event.ticket_id), "stage": event.stage, "category": category}
        if event.kind == "opened":  # the complaint's words, for the text themes
            words = f"{ticket.subject}\n{ticket.body}".strip() if ticket is not None else ""
            rows.append(_ticket_row(event, "complaint", {**props, "text": words}))
        rows.append(_ticket_row(event, "ticket_stage", props))
        if event.stage == "resolved":
            rows.append(_ticket_row(event, "ticket_resolved", props))
    append_to_warehouse(rows, settings=settings, con=con)
    session.execute(
        update(TicketUpdate)
        .where(TicketUpdate.id.in_([r.id for r in pending]))
        .values(logged=True)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return len(pending)


_FIELDS: Final = ("customer_id", "subject")


def _naive_utc(text: str) -> dt.datetime:
    """An ISO time as naive UTC (the stores' convention); a naive input is taken as UTC."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def import_file(session: Session, path: Path, *, sla: Sla | None = None) -> Sequence[Ticket]:
    """Open a ticket per row of a CSV file; return them in file order.

    ``customer_id`` and ``subject`` are required; ``body``, ``category``, ``email``,
    ``language``, ``owner``, ``ticket_id`` and ``opened_at`` are optional.
    Rows with a ``ticket_id`` already imported are skipped, so importing a file twice is safe.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [f for f in _FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise InvalidParameterError(
                t("voice_cases.import_columns", path=str(path), missing=", ".join(missing))
            )
        out: list[Ticket] = []
        for row in reader:
            opened = row.get("opened_at") or ""
            out.append(
                open_ticket(
                    session,
                    customer_id=(row.get("customer_id") or "").strip(),
                    subject=row.get("subject") or "",
                    body=row.get("body") or "",
                    category=row.get("category") or "general",
                    email=row.get("email") or None,
                    language=row.get("language") or "en",
                    owner=row.get("owner") or None,
                    external_id=row.get("ticket_id") or None,
                    opened_at=_naive_utc(opened) if opened else None,
                    sla=sla,
                )
            )
    return out


_EXPORT: Final = (
    "id",
    "external_id",
    "customer_id",
    "subject",
    "category",
    "stage",
    "owner",
    "opened_at",
    "respond_due_at",
    "resolve_due_at",
    "resolved_at",
    "response_breached",
    "resolution_breached",
)


def export_csv(session: Session) -> str:
    """Every ticket as CSV; text a spreadsheet would run as a formula gets a leading ``'``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_EXPORT)
    for ticket in session.scalars(select(Ticket).order_by(Ticket.id)):
        writer.writerow([csv_cell(getattr(ticket, name)) for name in _EXPORT])
    return out.getvalue()
