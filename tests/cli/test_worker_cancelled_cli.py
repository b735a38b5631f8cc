"""``retain worker --once`` says apart the messages it cancelled (a suppressed address)."""

from __future__ import annotations

import socket

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from _cli_runner import make_invoker
from retain.app.db import make_engine, make_sessionmaker, upgrade
from retain.config import get_settings
from retain.engage import outbox, suppression


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
        '[engage]\nsender = "news@shop.example"\n'
    )
    settings = get_settings(config)
    upgrade(settings.database_url)
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
        suppression.suppress(session, "c2@example.com", "unsubscribe")
        session.commit()
    run = make_invoker(config, monkeypatch)
    try:
        result = run("worker", "--once", "--no-interactions")
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert "Delivered 1, retried 0, failed 0, dead 0; 0 still queued." in result.output
    assert "Cancelled 1 before sending" in result.output
