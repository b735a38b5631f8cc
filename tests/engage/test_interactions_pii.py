"""A delivery's outcome in ``interactions`` names no contact detail.

The customer 360 shows every interaction's ``properties`` to roles without ``customers.pii``,
so the number or address a refusal quotes (a number the worker cannot read, an SMTP server's
``550 <address>``) must not travel into the warehouse with it. Real components: a SQLite app
database migrated by Alembic, a DuckDB warehouse the worker appends to.
"""

from __future__ import annotations

import json

import pyarrow as pa
from _delivery import engage_settings, sessions_for
from sqlalchemy import select

import retain.warehouse as wh
from retain.appdb import utcnow
from retain.config import SmsSettings
from retain.engage import outbox
from retain.engage._tables import DeliveryAttempt
from retain.engage.worker import Worker, append_interactions
from retain.ingest import ingest


def test_a_refused_number_stays_in_the_app_database_not_in_interactions(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    settings = engage_settings(tmp_path, url)
    settings.sms = SmsSettings(
        gateway_url="http://127.0.0.1:9/v1/messages",  # never reached: the number is refused
        sender="+15005550006",
        allow_private=["127.0.0.0/8"],
        timeout_seconds=5,
    )
    sessions = sessions_for(url)
    # a customer with no country: the national number cannot be read
    row = {"customer_id": "C1", "phone": "090-1234-5678", "sms_opt_in": True}
    ingest("customers", pa.Table.from_pylist([row]), settings=settings)
    with sessions() as session:
        outbox.enqueue(
            session,
            customer_id="C1",
            channel="sms",
            recipient="090-1234-5678",
            payload={"body": "Welcome back", "region": None},  # as a playbook run writes it
            idempotency_key="k1",
            advertising=False,
        )
        outbox.enqueue(
            session,
            customer_id="C1",
            channel="email",
            recipient="Alice@Example.com",
            payload={"subject": "s", "body": "b"},
            idempotency_key="k2",
        )
        email = session.scalars(
            select(outbox.OutboxMessage).where(outbox.OutboxMessage.idempotency_key == "k2")
        ).one()
        session.add(
            DeliveryAttempt(
                message_id=email.message_id,
                customer_id="C1",
                channel="email",
                attempt=1,
                outcome="failed",
                detail="550 5.1.1 <alice@example.com>: Recipient address rejected",
                occurred_at=utcnow(),
            )
        )
        session.commit()
    report = Worker(settings, sessions, log_interactions=False).drain()
    assert report.failed == 1  # the number, refused for good (the mail: SMTP is not there)
    with sessions() as session:
        details = list(session.scalars(select(DeliveryAttempt.detail)))
        # the app database keeps the reason whole (the outbox page hides it from who may not see)
        assert any("09012345678" in (d or "") for d in details)
        assert append_interactions(session, settings) >= 2
    con = wh.connect(settings=settings)
    try:
        logged = con.table("interactions").to_pandas()
    finally:
        con.disconnect()
    details = [json.loads(p)["detail"] for p in logged["properties"]]
    assert len(details) >= 2 and all(details)
    for detail in details:
        assert "09012345678" not in detail and "alice@example.com" not in detail.lower()
    assert any("5.1.1" in d for d in details)  # the status code stays
