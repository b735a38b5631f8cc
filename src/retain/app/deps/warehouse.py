"""The service's shared warehouse handle: reads side by side, writes one at a time.

:class:`Warehouse` is opened once per app (``app.state.warehouse``); :class:`LockedWarehouse`
is what a route gets from :data:`retain.app.deps.warehouse_access.LockedWarehouseDep`.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import TYPE_CHECKING

from retain.app._reads import Reads
from retain.config import Settings
from retain.targeting.at_risk import JoinedFrames, share_frames

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["MAX_IN_FLIGHT", "LockedWarehouse", "Warehouse"]

MAX_IN_FLIGHT = 48
"""Warehouse requests a service admits at once; more get 503 with Retry-After (not a queue).

At the at-risk list's and customer 360's cost on two cores, 48 requests in flight clear in well
under a second; a longer queue only makes every caller wait and time out.
"""


def _alive(thread: weakref.ref[threading.Thread]) -> bool:
    """Whether the thread a cursor was made for still runs."""
    held = thread()
    return held is not None and held.is_alive()


class _Drain:
    """Counts the reads in progress so a writer can wait until none is."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = threading.Condition()

    def enter(self) -> None:
        with self._idle:
            self.count += 1

    def leave(self) -> None:
        with self._idle:
            self.count -= 1
            if self.count == 0:
                self._idle.notify_all()

    def wait(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self.count == 0)


@dataclass(eq=False)
class Warehouse:
    """The service's warehouse: reads side by side, writes one at a time, and who holds the file.

    On DuckDB every read runs on its own cursor of one shared connection (DuckDB runs queries of
    one database's cursors in parallel; one cursor must not serve two threads), so reads do
    not wait for each other. A write (an API ingest) takes :attr:`lock` exclusively, waits for
    the reads in progress, and runs alone; reads arriving meanwhile wait for it. Other engines
    serialise every request behind :attr:`lock`, as one connection must.

    A DuckDB *file* is opened read-only, so the command line may read it while the service runs
    (DuckDB admits one writing process or many reading ones), and reopened read-write only for
    the moment of a write; a holder record beside the file (:func:`retain.warehouse.hold`) tells
    a command that tries to write which process holds it. :attr:`generation` counts the writes,
    so caches of what was read can tell they are stale; :attr:`frames` holds the at-risk
    list's joined frame and recent pages (:class:`retain.targeting.at_risk.JoinedFrames`), shared
    by every cursor and cleared by each write, when the service opened the warehouse itself.

    ``lock`` is a plain :class:`threading.Lock` (FastAPI may enter a dependency in one thread
    and leave it in another; only a plain lock may be released by another thread). Code holding
    it never takes it again.
    """

    settings: Settings
    con_: BaseBackend | None = None
    reads_: Reads | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    max_in_flight: int = MAX_IN_FLIGHT
    generation: int = 0
    in_flight: int = 0
    _opening: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _given: bool = False
    _concurrent: bool | None = None
    _writing: bool = False
    _drain: _Drain = field(default_factory=_Drain, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _cursors: list[tuple[weakref.ref[threading.Thread], BaseBackend]] = field(
        default_factory=list, repr=False
    )
    frames: JoinedFrames = field(default_factory=JoinedFrames, repr=False)

    def __post_init__(self) -> None:
        self._given = self.con_ is not None

    @property
    def path(self) -> str | None:
        """The DuckDB file the service opens read-only between writes (None: a fixed connection)."""
        from retain import warehouse as wh

        return None if self._given else wh.duckdb_path(self.settings.warehouse_url)

    @property
    def root(self) -> BaseBackend:
        """The shared connection (opened on first use, so the app starts without a warehouse)."""
        with self._opening:
            if self.con_ is None:
                from retain import warehouse as wh

                path = self.path
                if path is None:
                    self.con_ = wh.connect(self.settings.warehouse_url, settings=self.settings)
                else:
                    if not FilePath(path).exists():
                        wh.connect(
                            self.settings.warehouse_url, settings=self.settings
                        ).disconnect()  # create it
                    self.con_ = wh.connect(
                        self.settings.warehouse_url, settings=self.settings, read_only=True
                    )
                    wh.hold(path)
            return self.con_

    @property
    def concurrent(self) -> bool:
        """Whether reads run side by side (DuckDB, on cursors) instead of one at a time."""
        if self._concurrent is None:
            from retain import warehouse as wh

            con = self.root
            self._concurrent = hasattr(con, "name") and wh.backend_name(con) == "duckdb"
        return self._concurrent

    @property
    def con(self) -> BaseBackend:
        """The connection for the calling thread: its own cursor on DuckDB while reading."""
        root = self.root
        if self._writing or not self.concurrent:
            return root
        mine = getattr(self._local, "con", None)
        if mine is None or getattr(self._local, "root", None) is not root:
            import ibis

            mine = ibis.duckdb.from_connection(root.con.cursor())  # type: ignore[attr-defined]
            if not self._given:  # nobody else writes it: the list's frames hold until a write
                share_frames(mine, self.frames)
            self._local.con, self._local.root = mine, root
            with self._opening:
                # a thread the pool retired leaves its cursor behind: close those here, so the
                # list holds one cursor per live thread however often the pool replaces threads
                gone = [cursor for thread, cursor in self._cursors if not _alive(thread)]
                self._cursors = [(t, c) for t, c in self._cursors if _alive(t)]
                self._cursors.append((weakref.ref(threading.current_thread()), mine))
            for cursor in gone:
                cursor.disconnect()
        return mine

    @property
    def reads(self) -> Reads:
        """Fast per-customer reads (compiled once and cached, see ``retain.app._reads``)."""
        if self.reads_ is None:
            made = Reads(lambda: self.con)  # opens the warehouse: outside ``_opening``
            with self._opening:
                if self.reads_ is None:
                    self.reads_ = made
        return self.reads_

    def begin_read(self) -> None:
        """Count a read in (the caller passed :attr:`lock` first, see :func:`hold_warehouse`)."""
        self._drain.enter()

    def end_read(self) -> None:
        """Count a read out."""
        self._drain.leave()

    def begin_write(self) -> None:
        """With :attr:`lock` held: wait for the reads, then open the file for writing."""
        self._drain.wait()
        path = self.path
        if path is not None:
            from retain import warehouse as wh

            self._close_connections()
            # waits up to duckdb_file.OPEN_WAIT_S for a command reading or writing the file
            con = wh.connect(self.settings.warehouse_url, settings=self.settings, write=True)
            with self._opening:
                self.con_ = con
        self._writing = True

    def end_write(self) -> None:
        """After a write: forget every cache and go back to reading (the file read-only)."""
        self._writing = False
        self.generation += 1
        self.frames.clear()
        if self.reads_ is not None:
            self.reads_.forget()
        if self.path is not None:
            self._close_connections()
            self.claim()

    def claim(self) -> None:
        """Open the warehouse now (read-only for a file), so the service holds it from here on.

        A file another process is writing at this moment is left for the next request to open.
        """
        from retain import warehouse as wh

        try:
            _ = self.root
        except wh.WarehouseBusyError:
            return

    def _close_connections(self) -> None:
        with self._opening:
            cursors, self._cursors = self._cursors, []
            con, self.con_ = self.con_, None
        for _, cursor in cursors:
            cursor.disconnect()
        if con is not None and not self._given:
            con.disconnect()

    def close(self) -> None:
        """Close what this handle opened (waits for the query running now); release the file."""
        with self.lock:
            self._drain.wait()
            self._close_connections()
            path = self.path
            if path is not None:
                from retain import warehouse as wh

                wh.release(path)


class LockedWarehouse:
    """The warehouse while a request may use it: the connection and the per-customer reads.

    What :data:`LockedWarehouseDep` gives a route (reading, or writing alone for a request that
    changes state). It has no ``lock``: taking it inside a route would wait forever.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse

    @property
    def con(self) -> BaseBackend:
        """The Ibis backend for this thread (opened on first use)."""
        return self._warehouse.con

    @property
    def reads(self) -> Reads:
        """Fast per-customer reads over :attr:`con`."""
        return self._warehouse.reads

    @property
    def generation(self) -> int:
        """How many writes the service has made (a cache keyed by it is never stale)."""
        return self._warehouse.generation
