"""Login throttling and segment owners: the login_failures table, saved_segments.owner_*.

Revision ID: 0002_throttle_segment_owner
Revises: 0001
Create Date: 2026-11-30 10:00:00

Segments saved before owners were kept get the user whose e-mail is their ``created_by`` as
owner; those saved with an API key (or by a user since removed) have none, so only admins
change them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_throttle_segment_owner"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the throttle counters and the segment owner columns, and backfill owners."""
    op.create_table(
        "login_failures",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("saved_segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE saved_segments SET owner_kind = 'user', owner_id = "
        "(SELECT users.id FROM users WHERE users.email = saved_segments.created_by) "
        "WHERE EXISTS (SELECT 1 FROM users WHERE users.email = saved_segments.created_by)"
    )


def downgrade() -> None:
    """Drop the owner columns and the throttle counters."""
    with op.batch_alter_table("saved_segments", schema=None) as batch_op:
        batch_op.drop_column("owner_id")
        batch_op.drop_column("owner_kind")
    op.drop_table("login_failures")
