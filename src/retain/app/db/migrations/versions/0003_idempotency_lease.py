"""idempotency keys record which process holds them and until when (crash-safe retries)

Revision ID: 0003_idempotency_lease
Revises: 0002_throttle_segment_owner
Create Date: 2026-12-06 12:00:00

Keys left in progress before this revision have no owner: a retry takes them over (the
server was restarted to apply this revision, so their requests are gone).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_idempotency_lease"
down_revision = "0002_throttle_segment_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the owner and lease expiry of in-progress keys."""
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Drop the owner and lease columns."""
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("owner")
