"""voice: surveys, invitations (hashed link ids), responses, follow-up tasks, cancellations.

Revision ID: 0005_voice_surveys
Revises: 0004_engage_outbox
Create Date: 2026-12-06 17:05:00

Survey answers and the hosted cancellation flow (retain.voice.surveys, retain.voice.cancel).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_voice_surveys"
down_revision = "0004_engage_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the survey and cancellation tables."""
    op.create_table(
        "voice_cancellations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("offer", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_cancellations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_voice_cancellations_token_hash")),
    )
    with op.batch_alter_table("voice_cancellations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_cancellations_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "voice_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_followups")),
    )
    with op.batch_alter_table("voice_followups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_followups_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index("ix_voice_followups_open", ["state", "created_at"], unique=False)

    op.create_table(
        "voice_survey_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("survey", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_survey_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_voice_survey_invitations_token_hash")),
    )
    with op.batch_alter_table("voice_survey_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_survey_invitations_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_voice_survey_invitations_survey"), ["survey"], unique=False
        )

    op.create_table(
        "voice_survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("survey", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.Column("logged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_survey_responses")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_voice_survey_responses_invitation_id")),
    )
    with op.batch_alter_table("voice_survey_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_survey_responses_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_voice_survey_responses_survey"), ["survey"], unique=False
        )

    op.create_table(
        "voice_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_surveys")),
        sa.UniqueConstraint("name", name=op.f("uq_voice_surveys_name")),
    )


def downgrade() -> None:
    """Drop the survey and cancellation tables."""
    op.drop_table("voice_surveys")
    with op.batch_alter_table("voice_survey_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_survey_responses_survey"))
        batch_op.drop_index(batch_op.f("ix_voice_survey_responses_customer_id"))

    op.drop_table("voice_survey_responses")
    with op.batch_alter_table("voice_survey_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_survey_invitations_survey"))
        batch_op.drop_index(batch_op.f("ix_voice_survey_invitations_customer_id"))

    op.drop_table("voice_survey_invitations")
    with op.batch_alter_table("voice_followups", schema=None) as batch_op:
        batch_op.drop_index("ix_voice_followups_open")
        batch_op.drop_index(batch_op.f("ix_voice_followups_customer_id"))

    op.drop_table("voice_followups")
    with op.batch_alter_table("voice_cancellations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_cancellations_customer_id"))

    op.drop_table("voice_cancellations")
