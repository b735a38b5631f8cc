"""A route's turn at the warehouse: admission, the lock, and reads beside reads.

:data:`LockedWarehouseDep` is the dependency (see :func:`hold_warehouse`); :data:`WarehouseDep`
gives the shared handle itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Request

from retain.app.deps.request import SAFE_METHODS
from retain.app.deps.warehouse import LockedWarehouse, Warehouse
from retain.app.errors import ServiceBusyError
from retain.i18n import t

__all__ = ["LockedWarehouseDep", "WarehouseDep", "get_warehouse", "hold_warehouse"]

_GATES: RunVar[WeakKeyDictionary[Warehouse, anyio.Semaphore]] = RunVar("retain_warehouse_gates")


def _gate(warehouse: Warehouse) -> anyio.Semaphore:
    """The event loop's queue for ``warehouse``'s lock (one per loop: TestClient runs several)."""
    gates = _GATES.get(None)
    if gates is None:
        gates = WeakKeyDictionary()
        _GATES.set(gates)
    gate = gates.get(warehouse)
    if gate is None:
        gate = gates[warehouse] = anyio.Semaphore(1)
    return gate


async def get_warehouse(request: Request) -> Warehouse:
    """The shared warehouse handle."""
    handle: Warehouse = request.app.state.warehouse
    return handle


WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]


async def hold_warehouse(
    request: Request, warehouse: WarehouseDep
) -> AsyncIterator[LockedWarehouse]:
    """Let the route use the warehouse: alongside other reads, or alone when it writes.

    A request that changes state (any method but GET, HEAD, OPTIONS) writes: it holds
    ``warehouse.lock`` for the whole route, waits for the reads in progress, and runs alone. A
    read passes the lock (so it waits while a write runs) and runs beside the other reads on
    DuckDB; on other engines it holds the lock too. Past ``warehouse.max_in_flight`` requests
    the service answers 503 with Retry-After at once instead of queueing.

    Requests queue for the lock on an async semaphore first, so at most one of them parks a
    worker thread on it; waiting in threads instead could take every worker of the pool while
    the holder still needs one to finish, and the service would stop.
    """
    if warehouse.in_flight >= warehouse.max_in_flight:
        raise ServiceBusyError(
            t("app.busy", count=warehouse.in_flight),
            hint=t("app.busy_hint"),
            retry_after=1,
        )
    warehouse.in_flight += 1
    taken = False
    reading = False
    writes = request.method not in SAFE_METHODS
    if warehouse._concurrent is None:
        await anyio.to_thread.run_sync(lambda: warehouse.concurrent)  # opens the warehouse
    exclusive = writes or not warehouse.concurrent

    def take() -> None:
        nonlocal taken
        warehouse.lock.acquire()
        taken = True  # set by the thread that took it, so a cancelled wait still gives it back

    try:
        async with _gate(warehouse):
            if warehouse.lock.acquire(blocking=False):
                taken = True
            else:
                await anyio.to_thread.run_sync(take)
        if not exclusive:
            warehouse.begin_read()
            reading = True
            warehouse.lock.release()
            taken = False
        elif writes:
            await anyio.to_thread.run_sync(warehouse.begin_write)
        try:
            yield LockedWarehouse(warehouse)
        finally:
            if taken and writes:
                await anyio.to_thread.run_sync(warehouse.end_write)
    finally:
        warehouse.in_flight -= 1
        if reading:
            warehouse.end_read()
        if taken:
            warehouse.lock.release()


LockedWarehouseDep = Annotated[LockedWarehouse, Depends(hold_warehouse)]
"""The warehouse, locked for the route's whole run (see :func:`hold_warehouse`)."""
