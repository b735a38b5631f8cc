"""voice: why the hosted cancellation page made the offer it made.

Revision ID: 0009_voice_offer_basis
Revises: 0008_playbook_versions
Create Date: 2026-12-06 20:20:00

``voice_cancellations.offer_basis`` records ``plan`` when the offer planner chose the offer,
else why the reason's fallback did (``no_plan``, ``not_in_plan``, the plan's left-out reason
such as ``held_out`` or ``would_stay``, or ``not_on_page`` for an action the page cannot make).
``plan_id`` names the plan that was read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_voice_offer_basis"
down_revision = "0008_playbook_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two columns (empty for the cancellations decided before)."""
    with op.batch_alter_table("voice_cancellations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offer_basis", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("plan_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("voice_cancellations", schema=None) as batch_op:
        batch_op.drop_column("plan_id")
        batch_op.drop_column("offer_basis")
