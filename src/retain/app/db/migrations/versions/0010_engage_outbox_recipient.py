"""engage: an index on the outbox's recipient; SMS numbers and addresses stored without padding.

Revision ID: 0010_engage_outbox_recipient
Revises: 0009_voice_offer_basis
Create Date: 2026-12-06 23:00:00

Cancelling the queued mail of a suppressed address or number (an unsubscribe, a bounce, an SMS
STOP, consent withdrawn) and finding the message an SMS reply answers look messages up by
recipient; without an index each did a full scan of ``engage_outbox``. The index is on
``lower(recipient)`` (an expression index, on SQLite and PostgreSQL alike), because e-mail
addresses are compared case-insensitively and are kept as the customer wrote them; numbers are
digits and ``+``, which ``lower`` leaves alone. Lookups compare exact forms, so rows written
before are brought to them: SMS recipients lose their separators (spaces, dashes, dots,
brackets: :func:`retain.engage.sms.normal_number`'s form, which
:func:`retain.engage.phone.variants` reaches from the E.164 form) and every recipient loses
surrounding spaces. The downgrade drops the index and leaves the rows as they are (the old code
reads both forms).

SQLite cannot reflect an expression index: a later ``batch_alter_table`` on ``engage_outbox``
re-creates the table without it and must create it again
(``tests/engage/test_outbox_recipient.py`` checks it is there after every upgrade).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_engage_outbox_recipient"
down_revision = "0009_voice_offer_basis"
branch_labels = None
depends_on = None

_SEPARATORS = (" ", "-", "(", ")", ".")


def upgrade() -> None:
    """Trim recipients, strip separators from SMS numbers, then index ``lower(recipient)``."""
    stripped = "recipient"
    for char in _SEPARATORS:
        stripped = f"replace({stripped}, '{char}', '')"
    op.execute(
        f"UPDATE engage_outbox SET recipient = {stripped} "
        f"WHERE channel = 'sms' AND recipient <> {stripped}"
    )
    op.execute(
        "UPDATE engage_outbox SET recipient = trim(recipient) "
        "WHERE channel <> 'sms' AND recipient <> trim(recipient)"
    )
    op.create_index(
        "ix_engage_outbox_recipient",
        "engage_outbox",
        [sa.text("lower(recipient)"), "state"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the index (the normalised rows stay: they are what the old code compares to)."""
    op.drop_index("ix_engage_outbox_recipient", table_name="engage_outbox")
