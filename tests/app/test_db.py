"""The app database's migrations: applied programmatically, idempotent, reversible."""

from __future__ import annotations

import sqlalchemy as sa

from retain.app.db import Base, alembic_config, make_engine, upgrade

TABLES = {
    "users",
    "api_keys",
    "login_sessions",
    "audit_log",
    "saved_segments",
    "idempotency_keys",
    "app_secrets",
    "login_failures",
    "engage_outbox",
    "engage_suppressions",
    "engage_delivery_attempts",
    "engage_keys",
    "engage_job_runs",
    "playbook_versions",
    "voice_surveys",
    "voice_survey_invitations",
    "voice_survey_responses",
    "voice_followups",
    "voice_cancellations",
    "voice_tickets",
    "voice_ticket_updates",
    "voice_savedesk_tasks",
    "voice_notes",
    "voice_tasks",
    "voice_calls",
    "alembic_version",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_model_table_and_is_idempotent(database_url):
    upgrade(database_url)
    upgrade(database_url)
    assert _tables(database_url) == TABLES
    assert {t.name for t in Base.metadata.sorted_tables} == TABLES - {"alembic_version"}


def test_migrations_match_the_models(database_url):
    """Autogenerate finds nothing to add: the shipped migration matches the SQLAlchemy models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_back(database_url):
    from alembic import command

    upgrade(database_url)
    command.downgrade(alembic_config(database_url), "base")
    assert _tables(database_url) <= {"alembic_version"}
    upgrade(database_url)
    assert _tables(database_url) == TABLES
