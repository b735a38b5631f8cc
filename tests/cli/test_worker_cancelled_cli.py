"""``retain worker --once`` says apart what it cancelled, and the SMS that wait for a gateway.

A suppression now cancels the queued messages when it is recorded, so the worker's own
cancellation here is the consent re-check: C2 withdrew e-mail consent after the decision.
"""

from __future__ import annotations

import socket

import pyarrow as pa
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from sqlalchemy import select

from _cli_runner import make_invoker
from retain.app.db import make_engine, make_sessionmaker, upgrade
from retain.config import get_settings
from retain.engage import outbox
from retain.engage._tables import OutboxMessage
from retain.ingest import ingest


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_once_reports_cancelled_messages_apart_from_failures(tmp_path, monkeypatch):
    port = _port()
    server = Controller(Sink(), hostname="127.0.0.1", port=port)
    server.start()
    config = tmp_path / "retain.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "app.db"}"\n'
        f'warehouse_url = "duckdb:///{tmp_path / "w.duckdb"}"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_starttls = false\n'
        '[engage]\nsender = "news@shop.example"\nconsent_recheck_minutes = 0\n'
    )
    settings = get_settings(config)
    upgrade(settings.database_url)
    consent = {
        "customer_id": ["C1", "C2"],
        "email": ["c1@example.com", "c2@example.com"],
        "email_opt_in": [True, False],
    }
    ingest("customers", pa.table(consent), settings=settings)
    with make_sessionmaker(make_engine(settings.database_url))() as session:
        for cid in ("C1", "C2"):
            outbox.enqueue(
                session,
                customer_id=cid,
                channel="email",
                recipient=f"{cid.lower()}@example.com",
                payload={"subject": "s", "body": "b"},
                idempotency_key=f"k-{cid}",
            )
        for i in range(2):  # no [sms] gateway: these wait, and no pass tries them
            outbox.enqueue(
                session,
                customer_id="C1",
                channel="sms",
                recipient="+819012345678",
                payload={"body": "b"},
                idempotency_key=f"sms-{i}",
            )
        session.commit()
    run = make_invoker(config, monkeypatch)
    try:
        result = run("worker", "--once", "--no-interactions")
        again = run("worker", "--once", "--no-interactions")
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert "Delivered 1, retried 0, failed 0, dead 0; 2 still queued." in result.output
    assert "Cancelled 1 before sending" in result.output
    for output in (result.output, again.output):
        assert "2 SMS wait for a gateway" in output and "sms.gateway_url" in output
    with make_sessionmaker(make_engine(settings.database_url))() as session:
        waiting = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms"))
        assert [(m.state, m.attempts) for m in waiting] == [("queued", 0), ("queued", 0)]
