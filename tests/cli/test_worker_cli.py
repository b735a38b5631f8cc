"""``retain worker --once`` drains the outbox to a real SMTP server and prints a summary."""

from __future__ import annotations

import socket

import pyarrow as pa
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.app.db import make_engine, make_sessionmaker, upgrade
from retain.config import get_settings
from retain.engage import outbox
from retain.ingest import ingest


class _Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.received: list = []

    def handle_message(self, message) -> None:
        self.received.append(message)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_once_delivers_and_logs_interactions(tmp_path, monkeypatch):
    inbox, port = _Inbox(), _port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    config = tmp_path / "retain.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "app.db"}"\n'
        f'warehouse_url = "duckdb:///{tmp_path / "w.duckdb"}"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_starttls = false\n'
        '[engage]\nsender = "news@shop.example"\n'
    )
    settings = get_settings(config)
    ingest("customers", pa.table({"customer_id": ["C1", "C2"]}), settings=settings)
    upgrade(settings.database_url)
    with make_sessionmaker(make_engine(settings.database_url))() as session:
        for cid in ("C1", "C2"):
            outbox.enqueue(
                session,
                customer_id=cid,
                channel="email",
                recipient=f"{cid.lower()}@example.com",
                payload={"subject": "こんにちは", "body": "b"},
                idempotency_key=f"k-{cid}",
                language="ja",
            )
        session.commit()
    run = make_invoker(config, monkeypatch)
    try:
        result = run("worker", "--once")
        again = run("worker", "--once")
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert "Delivered 2, retried 0, failed 0, dead 0; 0 still queued." in result.output
    assert "Delivered 0" in again.output  # nothing is sent twice on a second run
    assert sorted(m["To"] for m in inbox.received) == ["c1@example.com", "c2@example.com"]
    con = wh.connect(settings.warehouse_url)
    try:
        kinds = con.table("interactions").to_pyarrow().column("kind").to_pylist()
    finally:
        con.disconnect()
    assert kinds == ["message_sent", "message_sent"]


def test_worker_without_smtp_says_so_and_keeps_mail_queued(tmp_path, monkeypatch):
    config = tmp_path / "retain.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "app.db"}"\n')
    settings = get_settings(config)
    upgrade(settings.database_url)
    with make_sessionmaker(make_engine(settings.database_url))() as session:
        outbox.enqueue(
            session,
            customer_id="C1",
            channel="email",
            recipient="c1@example.com",
            payload={"subject": "s", "body": "b"},
            idempotency_key="k",
        )
        session.commit()
    result = make_invoker(config, monkeypatch)("worker", "--once", "--no-interactions")
    assert result.exit_code == 0, result.output
    assert "RETAIN_SMTP_HOST" in result.output
    assert "1 still queued" in result.output
