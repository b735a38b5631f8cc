"""The complaint, save-desk and customer-work tables in the app database.

Defined on :class:`retain.appdb.Base` (like engage's outbox and the survey tables) so the app's
Alembic migrations create them (revision ``0006_voice_cases``) and ``tests/app/test_db.py``
checks the migration matches. Ticket events keep a ``logged`` flag: they are appended to the
warehouse's ``interactions`` by :func:`retain.voice.tickets.append_interactions` and flagged only
after the append, so a crash re-appends (idempotent ids) rather than loses an event.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import Boolean, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from retain.appdb import Base, utcnow

__all__ = [
    "STAGES",
    "CallLog",
    "CustomerNote",
    "CustomerTask",
    "SaveDeskTask",
    "Ticket",
    "TicketUpdate",
]

#: A complaint's stages, in order; ``closed`` is final.
STAGES: Final = ("received", "investigating", "waiting_for_customer", "resolved", "closed")


class Ticket(Base):
    """One complaint or ticket, its stage, owner and SLA clock."""

    __tablename__ = "voice_tickets"
    __table_args__ = (Index("ix_voice_tickets_open", "stage", "resolve_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), default="general")
    stage: Mapped[str] = mapped_column(String(24), default="received")
    owner: Mapped[str | None] = mapped_column(String(320), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    language: Mapped[str] = mapped_column(String(8), default="en")
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    respond_due_at: Mapped[dt.datetime] = mapped_column()
    resolve_due_at: Mapped[dt.datetime] = mapped_column()
    responded_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TicketUpdate(Base):
    """A stage change, an internal note or a customer-visible update on one ticket."""

    __tablename__ = "voice_ticket_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(index=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))  # opened, stage, note, update
    stage: Mapped[str | None] = mapped_column(String(24), default=None)
    body: Mapped[str] = mapped_column(Text, default="")
    visible: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str | None] = mapped_column(String(320), default=None)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    logged: Mapped[bool] = mapped_column(Boolean, default=False)


class SaveDeskTask(Base):
    """A case in the save-desk queue: a cancellation request or a high-risk high-value customer."""

    __tablename__ = "voice_savedesk_tasks"
    __table_args__ = (Index("ix_voice_savedesk_queue", "status", "agent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # cancellation, high_risk
    source: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    segment: Mapped[str] = mapped_column(String(100), default="all")
    reason: Mapped[str] = mapped_column(String(100), default="unknown")
    value: Mapped[float] = mapped_column(Float, default=0.0)
    value_band: Mapped[str] = mapped_column(String(12), default="low")
    offer: Mapped[str | None] = mapped_column(String(100), default=None)
    agent: Mapped[str | None] = mapped_column(String(320), default=None)
    routed_randomly: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open, assigned, done
    outcome: Mapped[str | None] = mapped_column(String(12), default=None)  # saved, cancelled
    outcome_offer: Mapped[str | None] = mapped_column(String(100), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class CustomerNote(Base):
    """A free-text note on a customer's 360."""

    __tablename__ = "voice_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    author: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CustomerTask(Base):
    """A to-do about a customer with an owner and a due date."""

    __tablename__ = "voice_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str] = mapped_column(String(320), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(default=None)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class CallLog(Base):
    """A call an agent logged with a customer and its outcome."""

    __tablename__ = "voice_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    agent: Mapped[str] = mapped_column(String(320))
    outcome: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
