"""engage: cancelled messages with a reason, discarded dead letters, SMS segments.

Revision ID: 0007_engage_outbox_states
Revises: 0006_voice_cases
Create Date: 2026-12-06 19:30:00

A message withdrawn before sending (suppressed, consent revoked, playbook disabled, customer
left, pre-empted by a higher priority) is ``cancelled`` with ``cancel_reason`` instead of
``failed``; an admin may discard a failed or dead message (``discarded_at``) to take it off the
dead-letter page; an SMS records how many segments it took (``segments``). ``state`` is a plain
string column, so the new state needs no constraint change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_engage_outbox_states"
down_revision = "0006_voice_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the cancel reason, the discard time and the SMS segment count."""
    with op.batch_alter_table("engage_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("discarded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("segments", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop them again (cancelled rows keep their state string)."""
    with op.batch_alter_table("engage_outbox", schema=None) as batch_op:
        batch_op.drop_column("segments")
        batch_op.drop_column("discarded_at")
        batch_op.drop_column("cancel_reason")
