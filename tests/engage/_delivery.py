"""Real receivers for delivery tests: an aiosmtpd SMTP server and loopback HTTP receivers.

They listen on free loopback ports and record what arrived (:func:`http_server` serves the
webhook receiver and the SMS gateway of ``test_sms.py``). The webhook receiver honours
``Idempotency-Key`` as a well-behaved receiver would: a key it saw before is answered 200 and not
counted again (``accepted``), while ``requests`` keeps every raw arrival.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from retain.app.db import make_engine, make_sessionmaker, upgrade
from retain.config import Settings

SECRET = "test-webhook-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpHandler:
    """Keeps every accepted message; refuses recipients in ``refuse`` with 550."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    transient: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if address.lower() in self.transient:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted"

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(str(m["Message-ID"]) for m in self.messages)


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpHandler, int]]:
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


Answer = tuple[int, dict[str, str], bytes]
"""A status, the headers to send besides Content-Length, and the body."""


@contextmanager
def http_server(on_post: Callable[[str, Message, bytes], Answer]) -> Iterator[int]:
    """A real HTTP server on a free loopback port (yields the port) until the block ends.

    Each POST is read whole and answered by ``on_post(path, headers, body)``; it runs in the
    server's threads, so shared state needs a lock.
    """

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, answer = on_post(self.path, self.headers, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Receiver:
    """What a loopback HTTP receiver saw, and how it answers (the webhook's, an SMS gateway's)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_first: int = 0
    status: int = 200
    redirect_to: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    path: str = "/hook"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def record(self, path: str, headers: Message, body: bytes) -> None:
        """Keep one arrival (call holding :attr:`lock`)."""
        self.requests.append({"path": path, "headers": dict(headers), "body": body})

    def next_status(self) -> int:
        """503 for the first ``fail_first`` requests, then ``status`` (call holding ``lock``)."""
        if self.fail_first > 0:
            self.fail_first -= 1
            return 503
        return self.status


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    state = Receiver()

    def on_post(path: str, headers: Message, body: bytes) -> Answer:
        with state.lock:
            state.record(path, headers, body)
            if state.redirect_to and path == state.path:
                return 307, {"Location": state.redirect_to}, b""
            status = state.next_status()
            key = headers.get("Idempotency-Key") or ""
            if 200 <= status < 300 and key not in state.accepted:
                state.accepted[key] = json.loads(body)
        return status, {}, b""

    with http_server(on_post) as port:
        state.port = port
        yield state


def engage_settings(
    tmp_path: Any, database_url: str, smtp_port: int = 0, **engage: Any
) -> Settings:
    """Settings for delivery tests: loopback SMTP without TLS, loopback webhooks allowed."""
    values: dict[str, Any] = {
        "sender": "news@shop.example",
        "sender_name": "Tea Shop",
        "postal_address": "1-2-3 Example, Tokyo",
        "contact": "help@shop.example",
        "public_url": "http://127.0.0.1:8000",
        "webhook_secret": SECRET,
        "webhook_allow_private": ["127.0.0.0/8"],
        "backoff_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "lease_seconds": 5.0,
        "batch_size": 10,
    }
    values.update(engage)
    return Settings(
        database_url=database_url,
        warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_starttls=False,
        smtp_timeout_seconds=5,
        engage=values,  # type: ignore[arg-type]
    )


def sessions_for(url: str) -> sessionmaker[Session]:
    upgrade(url)
    return make_sessionmaker(make_engine(url))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The app database: a SQLite file, or a fresh PostgreSQL database (import into a test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
