"""The worker end to end: both channels, interactions appended, overlapping workers."""

from __future__ import annotations

import threading
from collections import Counter

import pyarrow as pa
from _delivery import app_db, engage_settings, sessions_for, smtp_server, webhook_receiver
from sqlalchemy import select

import retain.warehouse as wh
from retain.engage import outbox
from retain.engage._tables import DeliveryAttempt
from retain.engage.worker import Worker
from retain.ingest import ingest

__all__ = ["app_db"]


def _queue(sessions, n: int, hook_url: str | None = None) -> None:
    with sessions() as session:
        for i in range(n):
            outbox.enqueue(
                session,
                customer_id=f"C{i}",
                channel="email",
                recipient=f"c{i}@example.com",
                payload={"subject": "s", "body": "b"},
                idempotency_key=f"mail-{i}",
                playbook="winback-60",
            )
            if hook_url:
                outbox.enqueue(
                    session,
                    customer_id=f"C{i}",
                    channel="webhook",
                    recipient=hook_url,
                    payload={"i": i},
                    idempotency_key=f"hook-{i}",
                    playbook="sync",
                )
        session.commit()


def test_deliveries_and_failures_are_appended_to_interactions(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with smtp_server() as (handler, port), webhook_receiver() as rx:
        settings = engage_settings(tmp_path, app_db, port, max_attempts=1)
        customers = pa.table({"customer_id": ["C0", "C1", "C2"]})
        ingest("customers", customers, settings=settings)
        handler.refuse.add("c2@example.com")
        _queue(sessions, 3, rx.url)
        rx.status = 500  # every webhook fails; one try allowed: dead
        report = Worker(settings, sessions).drain()
    assert (report.sent, report.failed, report.dead) == (2, 1, 3)
    assert report.logged == 6
    con = wh.connect(settings.warehouse_url)
    try:
        rows = con.table("interactions").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    kinds = Counter((r["channel"], r["kind"]) for r in rows)
    assert kinds == {
        ("email", "message_sent"): 2,
        ("email", "message_failed"): 1,
        ("webhook", "message_failed"): 3,
    }
    assert {r["campaign_id"] for r in rows if r["channel"] == "email"} == {"winback-60"}
    with sessions() as session:
        assert all(a.logged for a in session.scalars(select(DeliveryAttempt)))
    # A second flush appends nothing new (the keys are message and attempt).
    assert Worker(settings, sessions).flush_interactions() == 0


def test_a_busy_or_missing_warehouse_keeps_attempts_pending(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with smtp_server() as (_handler, port):
        settings = engage_settings(tmp_path, app_db, port)
        settings.warehouse_url = "unknown-scheme://nowhere"
        _queue(sessions, 1)
        report = Worker(settings, sessions).drain()
    assert report.sent == 1 and report.logged == 0
    with sessions() as session:
        assert [a.logged for a in session.scalars(select(DeliveryAttempt))] == [False]


def test_overlapping_workers_never_send_a_message_twice(app_db, tmp_path):
    n = 120
    sessions = sessions_for(app_db)
    with smtp_server() as (handler, port), webhook_receiver() as rx:
        settings = engage_settings(tmp_path, app_db, port, batch_size=5)
        _queue(sessions, n, rx.url)
        workers = [Worker(settings, sessions_for(app_db), log_interactions=False) for _ in range(3)]
        threads = [threading.Thread(target=w.drain) for w in workers]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        ids = handler.message_ids()
        hooks = Counter(r["headers"]["Idempotency-Key"] for r in rx.requests)
    assert len(ids) == n and max(ids.values()) == 1
    assert len(hooks) == n and max(hooks.values()) == 1
    with sessions() as session:
        assert outbox.counts(session)["sent"] == 2 * n


def test_a_requeued_message_logs_its_new_tries_to_interactions(app_db, tmp_path):
    # requeue() restarts the attempt count, so a key of (message, attempt) named the retry
    # after a fix like the failure before it: the warehouse saw an event conflict and dropped
    # the successful send.
    sessions = sessions_for(app_db)
    with smtp_server() as (_handler, port), webhook_receiver() as rx:
        settings = engage_settings(tmp_path, app_db, port, max_attempts=1)
        ingest("customers", pa.table({"customer_id": ["C0"]}), settings=settings)
        with sessions() as session:
            outbox.enqueue(
                session,
                customer_id="C0",
                channel="webhook",
                recipient=rx.url,
                payload={"i": 0},
                idempotency_key="hook-0",
            )
            session.commit()
        rx.status = 500
        assert Worker(settings, sessions).drain().dead == 1
        rx.status = 200
        with sessions() as session:
            assert outbox.requeue(session, outbox.message_id_for("hook-0"))
            session.commit()
        assert Worker(settings, sessions).drain().sent == 1
    con = wh.connect(settings.warehouse_url)
    try:
        rows = con.table("interactions").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    assert sorted(r["kind"] for r in rows) == ["message_failed", "message_sent"]


def test_a_slow_send_late_in_the_lease_is_not_taken_over_and_sent_twice(app_db, tmp_path):
    # The lease was renewed only once half of it had passed since the last renewal, so a send
    # starting just before that mark had barely half a lease: a receiver slower than that let a
    # second worker claim the same row mid-send and post it again.
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    delays = [0.9, 1.6]
    seen: list[str] = []

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.headers["Idempotency-Key"])
            time.sleep(delays.pop(0) if delays else 0.0)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    sessions = sessions_for(app_db)
    try:
        settings = engage_settings(tmp_path, app_db, lease_seconds=2.0)
        with sessions() as session:
            for i in range(2):
                outbox.enqueue(
                    session,
                    customer_id=f"C{i}",
                    channel="webhook",
                    recipient=url,
                    payload={"i": i},
                    idempotency_key=f"hook-{i}",
                )
            session.commit()
        first = threading.Thread(target=Worker(settings, sessions, log_interactions=False).drain)
        first.start()
        time.sleep(2.2)  # the first worker is inside its second, slow send
        Worker(settings, sessions_for(app_db), log_interactions=False).drain()
        first.join(30)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(seen) == ["hook-0", "hook-1"]
