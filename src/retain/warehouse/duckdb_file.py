"""Opening an embedded DuckDB file beside other processes: lock waits and read-only fallback.

DuckDB admits one writing process or many reading ones. :func:`open_duckdb` opens a file
read-write unless asked otherwise or another process holds it (:mod:`retain.warehouse.holder`)
or has it open; then it opens it read-only, remembers why, and :func:`ensure_writable` refuses
writes through that connection with a :class:`~retain.warehouse.holder.WarehouseBusyError`
naming the other process.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING, Any

import ibis

from retain.warehouse.holder import busy_error, holder_of

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["OPEN_WAIT_S", "ensure_writable", "is_read_only", "open_duckdb"]

OPEN_WAIT_S = 3.0
"""How long opening a DuckDB file waits for a lock that another process holds a moment."""
_READ_ONLY: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_READER_LOCK: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""DuckDB's lock error for a connection opened read-only because another process reads the file."""


def _is_lock(exc: Exception) -> bool:
    return "lock" in str(exc).lower()


def open_duckdb(path: str, *, read_only: bool, write: bool = False) -> BaseBackend:
    """Open ``path``: read-write unless asked or held elsewhere; waits a moment on a lock.

    With ``write`` the read-write open is retried until :data:`OPEN_WAIT_S` passes, whoever has
    the file open (a reader's lock too); without it a file another process has open is opened
    read-only at once, so commands that only read never wait for each other.
    """
    import duckdb

    deadline = time.monotonic() + OPEN_WAIT_S
    while True:
        try:
            if read_only:
                return ibis.duckdb.connect(path, read_only=True)
            if write or holder_of(path) is None:
                try:
                    return ibis.duckdb.connect(path)
                except duckdb.IOException as exc:
                    if not _is_lock(exc):
                        raise
                    if write:
                        if time.monotonic() > deadline:
                            raise busy_error(path, str(exc), reader=_readable(path)) from exc
                        time.sleep(0.05)
                        continue
                    reader_lock = str(exc)
            else:
                reader_lock = ""
            con = ibis.duckdb.connect(path, read_only=True)
            _READ_ONLY[con] = path
            _READER_LOCK[con] = reader_lock
            return con
        except duckdb.IOException as exc:
            if not _is_lock(exc):
                raise
            if time.monotonic() > deadline:
                raise busy_error(path, str(exc)) from exc
            time.sleep(0.05)


def _readable(path: str) -> bool:
    """Whether ``path`` opens read-only now: the process locking it out of writing only reads."""
    import duckdb

    try:
        duckdb.connect(path, read_only=True).close()
    except duckdb.Error:
        return False
    return True


def is_read_only(con: BaseBackend) -> bool:
    """Whether ``con`` was opened read-only because another process holds the file."""
    return con in _READ_ONLY


def ensure_writable(con: BaseBackend) -> None:
    """Refuse a write through a connection opened read-only because another process holds it."""
    path = _READ_ONLY.get(con)
    if path is not None:
        lock = _READER_LOCK.get(con, "")
        raise busy_error(path, lock, reader=bool(lock))
