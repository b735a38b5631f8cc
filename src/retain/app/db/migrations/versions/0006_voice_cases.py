"""voice: tickets, updates, save-desk tasks, notes, tasks, calls.

Revision ID: 0006_voice_cases
Revises: 0005_voice_surveys
Create Date: 2026-12-06 17:05:14

Complaints with stages and SLA clocks, the save-desk queue, and the notes, tasks and logged
calls of the customer 360 (retain.voice.tickets, retain.voice.savedesk, retain.voice.work).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_voice_cases'
down_revision = '0005_voice_surveys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ticket, save-desk and customer-work tables."""
    op.create_table('voice_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('agent', sa.String(length=320), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_calls'))
    )
    with op.batch_alter_table('voice_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_calls_customer_id'), ['customer_id'], unique=False)

    op.create_table('voice_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('author', sa.String(length=320), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_notes'))
    )
    with op.batch_alter_table('voice_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_notes_customer_id'), ['customer_id'], unique=False)

    op.create_table('voice_savedesk_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('segment', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('value_band', sa.String(length=12), nullable=False),
    sa.Column('offer', sa.String(length=100), nullable=True),
    sa.Column('agent', sa.String(length=320), nullable=True),
    sa.Column('routed_randomly', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('outcome_offer', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_savedesk_tasks')),
    sa.UniqueConstraint('source', name=op.f('uq_voice_savedesk_tasks_source'))
    )
    with op.batch_alter_table('voice_savedesk_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_voice_savedesk_queue', ['status', 'agent'], unique=False)
        batch_op.create_index(batch_op.f('ix_voice_savedesk_tasks_customer_id'), ['customer_id'], unique=False)

    op.create_table('voice_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('owner', sa.String(length=320), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_tasks'))
    )
    with op.batch_alter_table('voice_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_tasks_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voice_tasks_owner'), ['owner'], unique=False)

    op.create_table('voice_ticket_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('stage', sa.String(length=24), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('visible', sa.Boolean(), nullable=False),
    sa.Column('author', sa.String(length=320), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('logged', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_ticket_updates'))
    )
    with op.batch_alter_table('voice_ticket_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_ticket_updates_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('voice_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=False),
    sa.Column('stage', sa.String(length=24), nullable=False),
    sa.Column('owner', sa.String(length=320), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('respond_due_at', sa.DateTime(), nullable=False),
    sa.Column('resolve_due_at', sa.DateTime(), nullable=False),
    sa.Column('responded_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('response_breached', sa.Boolean(), nullable=False),
    sa.Column('resolution_breached', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_tickets')),
    sa.UniqueConstraint('external_id', name=op.f('uq_voice_tickets_external_id'))
    )
    with op.batch_alter_table('voice_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_tickets_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_voice_tickets_open', ['stage', 'resolve_due_at'], unique=False)



def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table('voice_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_voice_tickets_open')
        batch_op.drop_index(batch_op.f('ix_voice_tickets_customer_id'))

    op.drop_table('voice_tickets')
    with op.batch_alter_table('voice_ticket_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_ticket_updates_ticket_id'))

    op.drop_table('voice_ticket_updates')
    with op.batch_alter_table('voice_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_tasks_owner'))
        batch_op.drop_index(batch_op.f('ix_voice_tasks_customer_id'))

    op.drop_table('voice_tasks')
    with op.batch_alter_table('voice_savedesk_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_savedesk_tasks_customer_id'))
        batch_op.drop_index('ix_voice_savedesk_queue')

    op.drop_table('voice_savedesk_tasks')
    with op.batch_alter_table('voice_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_notes_customer_id'))

    op.drop_table('voice_notes')
    with op.batch_alter_table('voice_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_calls_customer_id'))

    op.drop_table('voice_calls')
