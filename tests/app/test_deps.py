"""The warehouse lock dependency: held for the whole route, given back on success and on errors,
shared with ``with warehouse.lock:`` blocks, and never starving the worker threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from retain.app.deps import LockedWarehouse, LockedWarehouseDep, Warehouse
from retain.app.errors import install_error_handlers
from retain.config import Settings
from retain.errors import NotFoundError


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


def test_close_waits_for_the_lock_and_reopens_later(tmp_path):
    handle = Warehouse(settings=Settings(warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}"))
    first = handle.con
    assert handle.reads.con is first
    with handle.lock:  # a route's ``with warehouse.lock:`` block may use the connection inside
        assert handle.con is first and handle.reads.con is first
    handle.close()
    assert handle.con_ is None
    assert handle.con is not first
    handle.close()
