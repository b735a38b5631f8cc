"""Imports every app-database model so ``Base.metadata`` knows all tables (for Alembic)."""

from __future__ import annotations

from retain.app.audit.models import AuditEntry
from retain.app.auth.models import ApiKey, AppSecret, LoginSession, User
from retain.app.ingest.models import IdempotencyRecord
from retain.app.segments.models import SavedSegment
from retain.engage._tables import DeliveryAttempt, EngageKey, JobRun, OutboxMessage, Suppression

__all__ = [
    "ApiKey",
    "AppSecret",
    "AuditEntry",
    "DeliveryAttempt",
    "EngageKey",
    "IdempotencyRecord",
    "JobRun",
    "LoginSession",
    "OutboxMessage",
    "SavedSegment",
    "Suppression",
    "User",
]
