"""Webhooks against a real HTTP receiver on loopback (allowed in the settings for these tests)."""

from __future__ import annotations

import json
import random
import time

from _delivery import SECRET, app_db, engage_settings, sessions_for, webhook_receiver

from retain.engage import outbox
from retain.engage.webhooks import SIGNATURE_HEADER, backoff_seconds, post_json, sign, verify
from retain.engage.worker import Worker

__all__ = ["app_db"]

LOOPBACK = ["127.0.0.1/32"]


def loopback_and(extra: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host == "127.0.0.1":
            return ["127.0.0.1"]
        return extra[host]

    return resolve


def test_signature_round_trip_and_tampering():
    body = b'{"a": 1}'
    header = sign(SECRET, int(time.time()), body)
    assert verify(SECRET, header, body)
    assert not verify(SECRET, header, b'{"a": 2}')
    assert not verify("other", header, body)
    assert not verify(SECRET, sign(SECRET, int(time.time()) - 3600, body), body)  # stale


def test_backoff_doubles_is_capped_and_jittered():
    rng = random.Random(7)
    delays = [backoff_seconds(a, base=1, cap=8, rng=rng) for a in (1, 2, 3, 4, 5, 6)]
    for attempt, delay in zip((1, 2, 3, 4, 5, 6), delays, strict=True):
        ceiling = min(8, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not fixed


def test_post_carries_json_signature_and_idempotency_key():
    with webhook_receiver() as rx:
        body = json.dumps({"x": "ü"}).encode()
        result = post_json(
            rx.url, body, secret=SECRET, idempotency_key="key-1", timeout=5, allow=LOOPBACK
        )
        assert result.ok and result.status == 200
        (req,) = rx.requests
    assert req["headers"]["Idempotency-Key"] == "key-1"
    assert req["headers"]["Content-Type"].startswith("application/json")
    assert verify(SECRET, req["headers"][SIGNATURE_HEADER], req["body"])


def test_loopback_is_refused_unless_allowed():
    with webhook_receiver() as rx:
        result = post_json(rx.url, b"{}", secret=SECRET, idempotency_key="k", timeout=5)
        assert not result.ok and not result.retryable
        assert rx.requests == []


def test_a_redirect_to_a_private_address_is_refused_on_the_hop():
    resolver = loopback_and({"internal.example": ["10.0.0.5"]})
    with webhook_receiver() as rx:
        rx.redirect_to = "http://internal.example/admin"
        result = post_json(
            rx.url,
            b"{}",
            secret=SECRET,
            idempotency_key="k",
            timeout=5,
            allow=LOOPBACK,
            resolver=resolver,
        )
        assert not result.ok and not result.retryable and "10.0.0.5" in result.detail
        assert [r["path"] for r in rx.requests] == ["/hook"]


def test_a_redirect_to_an_allowed_target_is_followed():
    with webhook_receiver() as rx:
        rx.redirect_to = f"http://127.0.0.1:{rx.port}/final"
        result = post_json(
            rx.url, b"{}", secret=SECRET, idempotency_key="k", timeout=5, allow=LOOPBACK
        )
        assert result.ok
        assert [r["path"] for r in rx.requests] == ["/hook", "/final"]


def test_status_classes():
    with webhook_receiver() as rx:
        for status, retryable in (
            (500, True),
            (503, True),
            (429, True),
            (400, False),
            (410, False),
        ):
            rx.status = status
            result = post_json(
                rx.url, b"{}", secret=SECRET, idempotency_key="k", timeout=5, allow=LOOPBACK
            )
            assert (result.ok, result.retryable, result.status) == (False, retryable, status)


def test_a_closed_port_is_retryable():
    from _delivery import free_port

    url = f"http://127.0.0.1:{free_port()}/hook"
    result = post_json(url, b"{}", secret=SECRET, idempotency_key="k", timeout=2, allow=LOOPBACK)
    assert not result.ok and result.retryable


def _queue_hooks(sessions, url: str, n: int) -> None:
    with sessions() as session:
        for i in range(n):
            outbox.enqueue(
                session,
                customer_id=f"C{i}",
                channel="webhook",
                recipient=url,
                payload={"segment": "at-risk", "n": i},
                idempotency_key=f"hook-{i}",
                playbook="sync",
            )
        session.commit()


def test_worker_retries_with_backoff_then_delivers(app_db, tmp_path):
    sessions = sessions_for(app_db)
    settings = engage_settings(tmp_path, app_db, max_attempts=5, webhook_allow_private=LOOPBACK)
    with webhook_receiver() as rx:
        rx.fail_first = 2
        _queue_hooks(sessions, rx.url, 1)
        worker = Worker(settings, sessions, log_interactions=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            worker.drain()
            with sessions() as session:
                if outbox.counts(session)["sent"] == 1:
                    break
            time.sleep(0.05)
        assert len(rx.requests) == 3
        (body,) = rx.accepted.values()
    assert body["customer_id"] == "C0" and body["data"] == {"segment": "at-risk", "n": 0}
    assert body["attempt"] == 3 and body["idempotency_key"] == "hook-0"


def test_worker_dead_letters_after_max_attempts(app_db, tmp_path):
    sessions = sessions_for(app_db)
    settings = engage_settings(tmp_path, app_db, max_attempts=2, webhook_allow_private=LOOPBACK)
    with webhook_receiver() as rx:
        rx.status = 503
        _queue_hooks(sessions, rx.url, 1)
        worker = Worker(settings, sessions, log_interactions=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            worker.drain()
            with sessions() as session:
                if outbox.counts(session)["dead"] == 1:
                    break
            time.sleep(0.05)
        assert len(rx.requests) == 2
    with sessions() as session:
        assert outbox.counts(session)["dead"] == 1


def test_a_blocked_target_fails_at_once(app_db, tmp_path):
    sessions = sessions_for(app_db)
    settings = engage_settings(tmp_path, app_db, webhook_allow_private=[])
    with webhook_receiver() as rx:
        _queue_hooks(sessions, rx.url, 1)
        report = Worker(settings, sessions, log_interactions=False).drain()
        assert rx.requests == []
    assert report.failed == 1


def test_audience_sync_posts_members_in_parts_once(app_db, tmp_path):
    from retain.engage.audience import queue_audience_sync

    sessions = sessions_for(app_db)
    settings = engage_settings(tmp_path, app_db, webhook_allow_private=LOOPBACK)
    members = [{"customer_id": f"C{i}", "risk": 0.5} for i in range(2500)]
    with webhook_receiver() as rx:
        for _ in range(2):  # the same run queued twice: still three parts
            with sessions() as session:
                queue_audience_sync(
                    session, url=rx.url, audience="at-risk", members=members, run_key="sync-1"
                )
                session.commit()
        report = Worker(settings, sessions).drain()  # interactions on: audience parts skip it
        parts = sorted(rx.accepted.values(), key=lambda b: b["data"]["part"])
    assert report.sent == 3 and report.logged == 3
    assert [p["data"]["part"] for p in parts] == [1, 2, 3]
    assert [len(p["data"]["members"]) for p in parts] == [1000, 1000, 500]
    assert {p["data"]["total"] for p in parts} == {2500}
    got = [m["customer_id"] for p in parts for m in p["data"]["members"]]
    assert got == [m["customer_id"] for m in members]


def test_verify_refuses_a_non_ascii_signature_instead_of_raising():
    # hmac.compare_digest raises TypeError on non-ASCII str; a receiver must just say False.
    stamp = int(time.time())
    assert verify("k", f"t={stamp},v1=\u3042", b"{}") is False
    assert verify("k", f"t={stamp},v1=\u3042".encode().decode("latin-1"), b"{}") is False


def test_an_ipv6_literal_url_sends_a_bracketed_host_header():
    # RFC 7230 section 5.4: Host is uri-host, an IPv6 literal in brackets; "::1:8080" is
    # unparseable and a strict receiver (or proxy) answers 400 on every try.
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    server = Server6(("::1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        result = post_json(
            f"http://[::1]:{port}/hook",
            b"{}",
            secret=SECRET,
            idempotency_key="k6",
            timeout=5,
            allow=["::1/128"],
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.ok
    assert hosts == [f"[::1]:{port}"]
