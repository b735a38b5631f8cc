"""What a service keeps in memory to serve the at-risk list: joined frames and recent pages.

Scoring the list from the stored tables joins the latest scores, CLV and profiles again on every
call (a few hundred milliseconds); a service builds that frame once per line, narrows it in
memory per query, and remembers the pages it answered. Everything holds while the warehouse is
unchanged: whoever writes to the warehouse calls :meth:`JoinedFrames.clear` (the service does
after each write), and an entry is rebuilt after :data:`FRAME_TTL_S`, because "already churned"
is judged against the clock. A connection carries its frames (:func:`share_frames`), so the
list's functions find them without a new parameter.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import ChurnDefinition
    from retain.targeting.at_risk import AtRiskPage
    from retain.targeting.query import AtRiskQuery

__all__ = [
    "FRAME_TTL_S",
    "MAX_PAGES",
    "JoinedFrames",
    "line_key",
    "page_key",
    "share_frames",
    "shared_frames",
]

FRAME_TTL_S = 60.0
"""How long a cached joined frame or page serves: who has already churned depends on the clock."""
MAX_PAGES = 1024
"""Pages a :class:`JoinedFrames` remembers (the most recently asked for)."""

Run = dt.datetime | None


class JoinedFrames:
    """The joined frame of each line's latest run and the pages answered from it (see above)."""

    def __init__(self, pages: int = MAX_PAGES) -> None:
        self._lock = threading.Lock()
        self._frames: dict[Hashable, tuple[float, Run, ir.Table]] = {}
        self._pages: OrderedDict[Hashable, tuple[float, AtRiskPage]] = OrderedDict()
        self._max_pages = pages
        self._version = 0
        self._building: dict[Hashable, threading.Lock] = {}

    @property
    def version(self) -> int:
        """Counts :meth:`clear` calls: what was read under an older version is not kept."""
        return self._version

    def clear(self) -> None:
        """Forget every frame and page (the warehouse changed)."""
        with self._lock:
            self._frames.clear()
            self._pages.clear()
            self._version += 1

    def page(self, key: Hashable) -> AtRiskPage | None:
        """A page answered before for the same request, while it holds."""
        with self._lock:
            found = self._pages.get(key)
            if found is None or time.monotonic() - found[0] >= FRAME_TTL_S:
                return None
            self._pages.move_to_end(key)
            return found[1]

    def keep(self, key: Hashable, page: AtRiskPage, version: int) -> None:
        """Remember ``page`` for ``key`` unless the warehouse changed since ``version``."""
        with self._lock:
            if version != self._version:
                return
            self._pages[key] = (time.monotonic(), page)
            self._pages.move_to_end(key)
            while len(self._pages) > self._max_pages:
                self._pages.popitem(last=False)

    def get(self, key: Hashable, build: Callable[[], tuple[Run, pa.Table]]) -> tuple[Run, ir.Table]:
        """The run date and frame (an in-memory table) under ``key``, from ``build`` if stale.

        One caller builds a key at a time: while it does, the others get the frame it replaces
        (at most one TTL older) or, when there is none yet, wait for it. Without this, every
        request arriving while a frame expired built its own copy (0.3-0.4 s of CPU each), and
        a burst of them queued every read behind it.
        """
        now = time.monotonic()
        with self._lock:
            found = self._frames.get(key)
            builder = self._building.setdefault(key, threading.Lock())
        if found is not None and now - found[0] < FRAME_TTL_S:
            return found[1], found[2]
        if not builder.acquire(blocking=found is None):
            assert found is not None  # a stale frame serves while another caller rebuilds
            return found[1], found[2]
        try:
            with self._lock:
                again = self._frames.get(key)
                version = self._version
            if again is not None and time.monotonic() - again[0] < FRAME_TTL_S:
                return again[1], again[2]  # built by the caller this one waited for
            run, frame = build()
            built = (time.monotonic(), run, ibis.memtable(frame))
            with self._lock:
                if version == self._version:
                    self._frames[key] = built
            return built[1], built[2]
        finally:
            builder.release()


_SHARED: weakref.WeakKeyDictionary[Any, JoinedFrames] = weakref.WeakKeyDictionary()


def share_frames(con: BaseBackend, frames: JoinedFrames) -> None:
    """Let list queries on ``con`` read ``frames`` (a service shares one across its cursors)."""
    _SHARED[con] = frames


def shared_frames(con: BaseBackend) -> JoinedFrames | None:
    """The frames ``con`` was given, if any."""
    return _SHARED.get(con)


def line_key(line: ChurnDefinition | None) -> str | None:
    """A business line's configuration as a key (its frame depends on all of it)."""
    return line.model_dump_json() if line is not None else None


def page_key(
    query: AtRiskQuery, pii: bool, lang: str, line: str | None, tables: frozenset[str] | None
) -> Hashable:
    """What a page depends on besides the warehouse; None when the query cannot be a key."""
    key = (query, pii, lang, line, tables)
    try:
        hash(key)
    except TypeError:
        return None
    return key
