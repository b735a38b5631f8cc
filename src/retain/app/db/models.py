"""Imports every app-database model so ``Base.metadata`` knows all tables (for Alembic)."""

from __future__ import annotations

from retain.app.audit.models import AuditEntry
from retain.app.auth.models import ApiKey, AppSecret, LoginSession, User
from retain.app.ingest.models import IdempotencyRecord
from retain.app.segments.models import SavedSegment
from retain.engage._tables import DeliveryAttempt, EngageKey, JobRun, OutboxMessage, Suppression
from retain.engage.playbook_versions import PlaybookVersion
from retain.voice._case_tables import (
    CallLog,
    CustomerNote,
    CustomerTask,
    SaveDeskTask,
    Ticket,
    TicketUpdate,
)
from retain.voice._survey_tables import (
    CancellationRecord,
    FollowUpTask,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)

__all__ = [
    "ApiKey",
    "AppSecret",
    "AuditEntry",
    "CallLog",
    "CancellationRecord",
    "CustomerNote",
    "CustomerTask",
    "DeliveryAttempt",
    "EngageKey",
    "FollowUpTask",
    "IdempotencyRecord",
    "JobRun",
    "LoginSession",
    "OutboxMessage",
    "PlaybookVersion",
    "SaveDeskTask",
    "SavedSegment",
    "Suppression",
    "Survey",
    "SurveyInvitation",
    "SurveyResponse",
    "Ticket",
    "TicketUpdate",
    "User",
]
