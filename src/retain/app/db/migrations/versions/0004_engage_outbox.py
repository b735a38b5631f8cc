"""engage: the outbox, the suppression list, the delivery attempts log, keys and scheduled job runs

Revision ID: 0004_engage_outbox
Revises: 0003_idempotency_lease
Create Date: 2026-12-06 16:30:00

Deciding to send a message writes an outbox row in the decision's transaction; ``retain worker``
claims rows, delivers them and records each attempt (retain.engage).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_engage_outbox"
down_revision = "0003_idempotency_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the engage tables."""
    op.create_table(
        "engage_delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("campaign_id", sa.String(length=200), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("logged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engage_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_engage_delivery_attempts_logged"), "engage_delivery_attempts", ["logged"]
    )
    op.create_index(
        op.f("ix_engage_delivery_attempts_message_id"), "engage_delivery_attempts", ["message_id"]
    )
    op.create_table(
        "engage_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_engage_keys")),
    )
    op.create_table(
        "engage_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("advertising", sa.Boolean(), nullable=False),
        sa.Column("playbook", sa.String(length=200), nullable=True),
        sa.Column("campaign_id", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engage_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_engage_outbox_idempotency_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_engage_outbox_message_id")),
    )
    op.create_index(op.f("ix_engage_outbox_customer_id"), "engage_outbox", ["customer_id"])
    op.create_index("ix_engage_outbox_due", "engage_outbox", ["state", "next_attempt_at"])
    op.create_table(
        "engage_job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.DateTime(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engage_job_runs")),
        sa.UniqueConstraint(
            "job", "slot", "attempt", name="uq_engage_job_runs_job_slot_attempt"
        ),
    )
    op.create_index(op.f("ix_engage_job_runs_job"), "engage_job_runs", ["job"])
    op.create_table(
        "engage_suppressions",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_engage_suppressions")),
    )


def downgrade() -> None:
    """Drop the engage tables."""
    op.drop_index(op.f("ix_engage_job_runs_job"), table_name="engage_job_runs")
    op.drop_table("engage_job_runs")
    op.drop_table("engage_suppressions")
    op.drop_index("ix_engage_outbox_due", table_name="engage_outbox")
    op.drop_index(op.f("ix_engage_outbox_customer_id"), table_name="engage_outbox")
    op.drop_table("engage_outbox")
    op.drop_table("engage_keys")
    op.drop_index(
        op.f("ix_engage_delivery_attempts_message_id"), table_name="engage_delivery_attempts"
    )
    op.drop_index(op.f("ix_engage_delivery_attempts_logged"), table_name="engage_delivery_attempts")
    op.drop_table("engage_delivery_attempts")
