"""The warehouse dependency: the lock held for the whole route on engines that need it (given
back on success and on errors, shared with ``with warehouse.lock:`` blocks, never starving the
worker threads), reads side by side on DuckDB, writes alone, and overload shed with 503."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from retain import warehouse as wh
from retain.app.deps import LockedWarehouse, LockedWarehouseDep, Warehouse
from retain.app.errors import install_error_handlers
from retain.config import Settings
from retain.errors import NotFoundError
from retain.warehouse import duckdb_file


@pytest.fixture
def handle() -> Warehouse:
    """A warehouse handle with a stand-in connection (the dependency never queries it)."""
    return Warehouse(settings=Settings(), con_=object())  # type: ignore[arg-type]


@pytest.fixture
def api(handle: Warehouse) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.warehouse = handle
    install_error_handlers(app)
    seen: dict[str, Any] = {}
    app.state.seen = seen

    @app.get("/held")
    def held(warehouse: LockedWarehouseDep) -> dict[str, bool]:
        seen["locked"] = handle.lock.locked()
        seen["handle"] = warehouse
        return {"ok": True}

    @app.get("/refused")
    def refused(warehouse: LockedWarehouseDep) -> dict[str, bool]:
        del warehouse
        raise NotFoundError("nothing here")

    @app.get("/crash")
    def crash(warehouse: LockedWarehouseDep) -> dict[str, bool]:
        del warehouse
        raise RuntimeError("boom")

    @app.get("/slow")
    def slow(warehouse: LockedWarehouseDep) -> dict[str, bool]:
        del warehouse
        time.sleep(0.002)
        return {"ok": True}

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_lock_is_held_during_the_route_and_released_after(api: TestClient, handle: Warehouse):
    assert api.get("/held").json() == {"ok": True}
    seen = api.app.state.seen  # type: ignore[attr-defined]
    assert seen["locked"] is True
    assert isinstance(seen["handle"], LockedWarehouse)
    assert seen["handle"].con is handle.con_
    assert not hasattr(seen["handle"], "lock")
    assert not handle.lock.locked()


@pytest.mark.parametrize(("path", "status"), [("/refused", 404), ("/crash", 500)])
def test_lock_is_released_after_an_exception(
    api: TestClient, handle: Warehouse, path: str, status: int
):
    assert api.get(path).status_code == status
    assert not handle.lock.locked()
    assert api.get("/held").status_code == 200  # and the next request gets it
    assert not handle.lock.locked()


def test_route_waits_for_a_with_lock_block_elsewhere(api: TestClient, handle: Warehouse):
    done = threading.Event()
    statuses: list[int] = []

    def call() -> None:
        statuses.append(api.get("/held").status_code)
        done.set()

    with handle.lock:
        threading.Thread(target=call, daemon=True).start()
        assert not done.wait(0.3), "the route ran while someone else held the lock"
    assert done.wait(10)
    assert statuses == [200]
    assert not handle.lock.locked()


def test_many_waiting_requests_do_not_take_every_worker_thread(api: TestClient, handle: Warehouse):
    """More requests than the thread pool has workers (40) all finish: waiters queue in the
    event loop, not in threads, so the holder always finds a worker for its route."""
    n = 100
    finished: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = api.get("/slow").status_code
        with lock:
            finished.append(status)

    handle.max_in_flight = 10 * n  # this test is about waiting, not shedding
    threads = [threading.Thread(target=call, daemon=True) for _ in range(n)]
    with handle.lock:
        for thread in threads:
            thread.start()
        time.sleep(0.2)
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert finished == [200] * n, f"{len(finished)} of {n} requests finished"
    assert not handle.lock.locked()


def test_overload_is_shed_with_503_and_retry_after(api: TestClient, handle: Warehouse):
    """Past ``max_in_flight`` requests the service answers at once instead of queueing."""
    handle.max_in_flight = 2
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def call() -> None:
        got = api.get("/held")
        with lock:
            answers.append(got)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(5)]
    with handle.lock:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(answers) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        shed = list(answers)
    for thread in threads:
        thread.join(10)
    assert len(shed) == 3 and {r.status_code for r in shed} == {503}
    assert all(r.headers["Retry-After"] == "1" for r in shed)
    assert shed[0].json()["error"]["code"] == "service.busy"
    assert sorted(r.status_code for r in answers) == [200, 200, 503, 503, 503]
    assert handle.in_flight == 0 and not handle.lock.locked()


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[tuple[TestClient, Warehouse]]:
    """An app over a real DuckDB file with a slow read and a write route."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    seed = wh.connect(url)
    wh.write_table(seed, "t", pd.DataFrame({"x": [1, 2, 3]}))
    seed.disconnect()
    handle = Warehouse(settings=Settings(warehouse_url=url))
    app = FastAPI()
    app.state.warehouse = handle
    install_error_handlers(app)
    both = threading.Barrier(2, timeout=5)

    @app.get("/together")
    def together(warehouse: LockedWarehouseDep) -> dict[str, int]:
        both.wait()  # passes only when two reads run at the same time
        return {"n": int(wh.read_table(warehouse.con, "t").count().execute())}

    @app.get("/count")
    def count(warehouse: LockedWarehouseDep) -> dict[str, int]:
        return {"n": int(wh.read_table(warehouse.con, "t").count().execute())}

    @app.post("/add")
    def add(warehouse: LockedWarehouseDep) -> dict[str, int]:
        assert not wh.is_read_only(warehouse.con)
        wh.write_table(warehouse.con, "t", pd.DataFrame({"x": [4]}), mode="append")
        return {"readers": handle._drain.count}

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, handle
    handle.close()


def test_duckdb_reads_run_side_by_side(duck: tuple[TestClient, Warehouse]):
    api, handle = duck
    out: list[int] = []
    threads = [
        threading.Thread(target=lambda: out.append(api.get("/together").status_code))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert out == [200, 200]
    assert handle.con is not handle.root  # each thread reads on a cursor of its own


def test_duckdb_file_is_read_only_between_writes_and_writes_run_alone(
    duck: tuple[TestClient, Warehouse], tmp_path: Path
):
    api, handle = duck
    assert api.get("/count").json() == {"n": 3}
    path = str(tmp_path / "w.duckdb")
    holder = json.loads(Path(path + wh.HOLDER_SUFFIX).read_text())
    assert holder["pid"] == os.getpid() and holder["since"]
    before = handle.generation
    assert api.post("/add").json() == {"readers": 0}
    assert handle.generation == before + 1
    assert api.get("/count").json() == {"n": 4}
    handle.close()
    assert not Path(path + wh.HOLDER_SUFFIX).exists()


def test_close_waits_for_the_lock_and_reopens_later(tmp_path):
    handle = Warehouse(settings=Settings(warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}"))
    first = handle.root
    assert handle.reads.con is handle.con  # this thread's cursor
    with handle.lock:  # a route's ``with warehouse.lock:`` block may use the connection inside
        assert handle.root is first
    handle.close()
    assert handle.con_ is None
    assert handle.root is not first
    handle.close()


def test_cursors_of_retired_threads_are_closed_not_kept(tmp_path: Path):
    """A thread pool replaces its threads over a long run: one cursor per live thread is kept."""
    handle = Warehouse(settings=Settings(warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}"))
    made: list[object] = []
    for _ in range(5):  # five threads, each reading once and then ending
        thread = threading.Thread(target=lambda: made.append(handle.con))
        thread.start()
        thread.join(10)
    mine = handle.con  # this (live) thread's cursor: the five retired ones are gone
    assert len(made) == 5 and len(handle._cursors) == 1
    assert handle._cursors[0][1] is mine
    handle.close()


_READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
time.sleep(60)
"""


def test_an_ingest_waits_for_a_command_reading_the_file(
    duck: tuple[TestClient, Warehouse], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A CLI read elsewhere: the write waits OPEN_WAIT_S for it (503 only after that)."""
    import subprocess
    import sys

    api, _ = duck
    assert api.get("/count").json() == {"n": 3}
    path = str(tmp_path / "w.duckdb")

    def reader() -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", _READER, path], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        return proc

    monkeypatch.setattr(duckdb_file, "OPEN_WAIT_S", 10.0)
    proc = reader()
    timer = threading.Timer(0.5, proc.kill)
    timer.start()
    try:
        assert api.post("/add").status_code == 200  # the reader finished within the wait
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
    monkeypatch.setattr(duckdb_file, "OPEN_WAIT_S", 0.5)
    proc = reader()
    try:
        started = time.monotonic()
        answer = api.post("/add")
        assert answer.status_code == 503 and time.monotonic() - started >= 0.5
        assert "reading" in answer.json()["error"]["message"]
    finally:
        proc.kill()
        proc.wait()
    assert api.get("/count").json() == {"n": 4}
