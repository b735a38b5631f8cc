"""engage: playbooks edited through the API and the dashboard, every version kept.

Revision ID: 0008_playbook_versions
Revises: 0007_engage_outbox_states
Create Date: 2026-12-06 19:45:00

One row per version of a playbook (``retain.engage.playbook_versions``): its definition as a
``[[playbook]]`` table in JSON, its own templates when edited with it, a tombstone flag for a
deletion, who made it and when. ``(name, version)`` is unique, which turns two simultaneous
edits of one version into one success and one conflict.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_playbook_versions"
down_revision = "0007_engage_outbox_states"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the versions table."""
    op.create_table(
        "playbook_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("templates", sa.Text(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_versions")),
        sa.UniqueConstraint("name", "version", name="uq_playbook_versions_name_version"),
    )
    with op.batch_alter_table("playbook_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_playbook_versions_name"), ["name"], unique=False)


def downgrade() -> None:
    """Drop it (the edits are lost; the files' playbooks remain)."""
    with op.batch_alter_table("playbook_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playbook_versions_name"))
    op.drop_table("playbook_versions")
