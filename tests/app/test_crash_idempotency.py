"""Idempotency keys survive a crash: ``retain serve`` is killed (SIGKILL) in the middle of an
ingest request at several steps, restarted, and every batch retried with its own key is stored
exactly once; a retry while the first request still runs gets 409 (issue #16 item 17)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import retain.warehouse as wh
from retain.app.auth import service as auth
from retain.app.db import make_engine, make_sessionmaker, upgrade
from retain.app.ingest import lease
from retain.app.ingest import service as ingest_service
from retain.app.ingest.models import IdempotencyRecord
from retain.app.main import create_app
from retain.config import Settings
from retain.errors import ConflictError

RETAIN = str(Path(sys.executable).with_name("retain"))

# Kill points: the key just taken; inside the warehouse transaction (updated, not yet
# inserted); warehouse committed but not audited; audited but the answer not stored. (Each
# point costs a server start, a few seconds on two cores.)
STEPS = ("claimed", "write:updated", "done", "answered")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _batch(n: int) -> dict[str, Any]:
    return {
        "records": [
            {
                "event_id": f"crash-{n}-{i}",
                "customer_id": "c2",
                "occurred_at": "2024-06-01T10:00:00Z",
                "name": "login",
            }
            for i in range(3)
        ]
    }


def _post_until_dropped(url: str, key: str, idem: str, batch: dict[str, Any]) -> None:
    """The first try of a batch: it stalls in the server and ends when the server is killed."""
    with contextlib.suppress(httpx.TransportError):
        httpx.post(
            f"{url}/api/v1/ingest/events",
            json=batch,
            headers={"X-API-Key": key, "Idempotency-Key": idem},
            timeout=600,
        )


class Server:
    """``retain serve`` as a real process, optionally stalled at one step of one request."""

    def __init__(self, cwd: Path, env: dict[str, str], pause: str | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(env)
        if pause:
            env[ingest_service.PAUSE_ENV] = pause
        self.proc = subprocess.Popen(
            [RETAIN, "serve", "--port", str(self.port)],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "retain serve exited"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("retain serve did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def service_dir(_warehouse_template: Path, tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    """A folder with the hand-made warehouse, a migrated app database and an ingest key."""
    (tmp_path / "w.duckdb").write_bytes(_warehouse_template.read_bytes())
    database_url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        _, key = auth.create_api_key(session, name="shop", role="ingest", created_by="tests")
        session.commit()
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    env["RETAIN_WAREHOUSE_URL"] = f"duckdb:///{tmp_path / 'w.duckdb'}"
    env["RETAIN_DATABASE_URL"] = database_url
    return tmp_path, env, key


@pytest.mark.slow
def test_kill_mid_request_then_retry_stores_each_batch_once(service_dir):
    cwd, env, key = service_dir
    post_url = "/api/v1/ingest/events"
    for n, step in enumerate(STEPS):
        mark = cwd / f"paused-{n}"
        idem = f"batch-{n}"
        server = Server(cwd, env, pause=f"{step} {idem} {mark}")
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                first = threading.Thread(
                    target=_post_until_dropped, args=(server.url, key, idem, _batch(n))
                )
                first.start()
                deadline = time.monotonic() + 60
                while not mark.exists():
                    assert time.monotonic() < deadline, f"request never reached {step}"
                    time.sleep(0.05)
                again = client.post(
                    post_url,
                    json=_batch(n),
                    headers={"X-API-Key": key, "Idempotency-Key": idem},
                )
                assert again.status_code == 409, (step, again.text)
                assert again.json()["error"]["code"] == "ingest.idempotency_in_progress"
        finally:
            server.kill()
        first.join(timeout=30)

    # The restarted service, in this process (a third server start would only cost time).
    settings = Settings(
        warehouse_url=env["RETAIN_WAREHOUSE_URL"], database_url=env["RETAIN_DATABASE_URL"]
    )
    with TestClient(create_app(settings, migrate=True)) as client:
        for n, step in enumerate(STEPS):
            h = {"X-API-Key": key, "Idempotency-Key": f"batch-{n}"}
            retry = client.post(post_url, json=_batch(n), headers=h)
            assert retry.status_code == 200, (step, retry.text)
            body = retry.json()
            assert body["inserted"] + body["unchanged"] == 3 and body["rejected"] == 0, step
            replay = client.post(post_url, json=_batch(n), headers=h)
            assert replay.headers.get("idempotent-replayed") == "true"
            assert replay.json() == body

    con = wh.connect(env["RETAIN_WAREHOUSE_URL"])
    try:
        events = wh.read_table(con, "events").to_pandas()
    finally:
        con.disconnect()
    stored = events[events["event_id"].str.startswith("crash-")]["event_id"]
    assert sorted(stored) == sorted(f"crash-{n}-{i}" for n in range(len(STEPS)) for i in range(3))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_owner_liveness_and_lease():
    now = dt.datetime(2026, 1, 1, 12, 0)
    later = now + lease.LEASE
    me = lease.current_owner()
    host, boot, _, _ = me.rsplit("/", 3)
    assert not lease.owner_is_gone(me, later, now)
    assert lease.owner_is_gone(f"{host}/{boot}/{_dead_pid()}/", later, now)
    assert lease.owner_is_gone(f"{host}/another-boot/{os.getpid()}/1", later, now)
    # Another host: only the lease tells.
    assert not lease.owner_is_gone(f"elsewhere/{boot}/1/1", later, now)
    assert lease.owner_is_gone(f"elsewhere/{boot}/1/1", now, now)
    # Keys left in progress before owners were recorded.
    assert lease.owner_is_gone(None, None, now)


def test_a_running_key_conflicts_and_an_abandoned_one_is_taken_over(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    args = {"actor": "api_key:1", "endpoint": "ingest.events", "digest": "d"}
    with make_sessionmaker(engine)() as session:
        assert ingest_service.begin_idempotent(session, key="k", **args) is None
        with pytest.raises(ConflictError) as running:
            ingest_service.begin_idempotent(session, key="k", **args)
        assert running.value.code == "ingest.idempotency_in_progress"
        session.add(
            IdempotencyRecord(
                key="gone",
                actor=args["actor"],
                endpoint=args["endpoint"],
                request_hash="d",
                owner="elsewhere/x/1/1",
                lease_expires_at=dt.datetime(2000, 1, 1),
            )
        )
        session.commit()
        assert ingest_service.begin_idempotent(session, key="gone", **args) is None
        taken = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "gone"))
        session.refresh(taken)
        assert taken.owner == lease.current_owner()
        ingest_service.finish_idempotent(session, actor=args["actor"], key="gone", result=None)
        assert (
            session.scalar(select(IdempotencyRecord.id).where(IdempotencyRecord.key == "gone"))
            is None
        )
    engine.dispose()
