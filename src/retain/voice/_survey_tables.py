"""The survey and cancellation-flow tables in the app database.

Defined on :class:`retain.appdb.Base` (like engage's outbox) so the app's Alembic migrations
create them (revision ``0005_voice_surveys``) and ``tests/app/test_db.py`` checks the migration
matches. An invitation holds only the hash of its link's random id, so a leaked database row
cannot be turned into a working link; ``answered_at`` makes an answer count once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from retain.appdb import Base, utcnow

__all__ = [
    "CancellationRecord",
    "FollowUpTask",
    "Survey",
    "SurveyInvitation",
    "SurveyResponse",
]


class Survey(Base):
    """A survey definition: its kind (nps, csat, ces, free) and its questions as JSON."""

    __tablename__ = "voice_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    questions: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SurveyInvitation(Base):
    """One customer's invitation to one survey; ``token_hash`` is SHA-256 of the link's id."""

    __tablename__ = "voice_survey_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    survey: Mapped[str] = mapped_column(String(100), index=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    answered_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SurveyResponse(Base):
    """An accepted answer (one per invitation); ``logged`` once appended to interactions."""

    __tablename__ = "voice_survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(Integer, unique=True)
    survey: Mapped[str] = mapped_column(String(100), index=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    score: Mapped[int | None] = mapped_column(default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    answers: Mapped[str] = mapped_column(Text, default="{}")
    answered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    logged: Mapped[bool] = mapped_column(Boolean, default=False)


class FollowUpTask(Base):
    """A follow-up a detractor's answer (or another voice event) asks a person to do."""

    __tablename__ = "voice_followups"
    __table_args__ = (Index("ix_voice_followups_open", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CancellationRecord(Base):
    """One pass through the hosted cancellation flow: the stated reason, the offer, the outcome."""

    __tablename__ = "voice_cancellations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    reason: Mapped[str | None] = mapped_column(String(40), default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    offer: Mapped[str | None] = mapped_column(String(40), default=None)
    outcome: Mapped[str | None] = mapped_column(String(12), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: ``plan`` when the offer planner chose the offer, else why the fallback did (migration 0009).
    offer_basis: Mapped[str | None] = mapped_column(String(40), default=None)
    plan_id: Mapped[str | None] = mapped_column(String(200), default=None)
