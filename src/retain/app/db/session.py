"""Engines and sessions for the app database (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["WalCheckpointer", "make_engine", "make_sessionmaker", "normalize_url"]

log = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` use psycopg 3; SQLite URLs pass through."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _serving_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # a WalCheckpointer does it off the request path
    cursor.close()


def make_engine(url: str, *, background_checkpoints: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, WAL and foreign keys.

    ``background_checkpoints`` (the service): SQLite's own checkpoints are turned off on this
    engine's connections, so no commit ever waits for one; run a :class:`WalCheckpointer`
    beside it, or the write-ahead log only shrinks when the last connection closes.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=20,
            max_overflow=40,
        )
        pragmas = _serving_pragmas if background_checkpoints else _sqlite_pragmas
        event.listen(engine, "connect", pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


class WalCheckpointer:
    """Copies a SQLite app database's write-ahead log into the file from a background thread.

    In WAL mode with ``synchronous=NORMAL`` a commit does not wait for the disk, but SQLite's
    automatic checkpoint (every 1,000 pages) runs inside whichever commit crosses the line and
    waits for the file's fsync: on a busy disk 100-400 ms, while that commit holds the audit
    lock every audited read queues behind. The service's engine turns it off
    (``make_engine(..., background_checkpoints=True)``) and this thread checks every
    ``interval_s`` seconds and checkpoints once the log holds ``min_log_bytes`` (about SQLite's
    own 1,000 pages; ``PASSIVE``: never waits for readers or writers); ``stop`` truncates the
    log. benchmarks/service.py measured the tail it removes (RESULTS.md).
    On other databases it does nothing.
    """

    def __init__(
        self, engine: Engine, *, interval_s: float = 1.0, min_log_bytes: int = 4 << 20
    ) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.min_log_bytes = min_log_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def applies(self) -> bool:
        """Whether the engine is SQLite's (the only one with a log to checkpoint)."""
        return self.engine.dialect.name == "sqlite"

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """One checkpoint: (busy, pages in the log, pages copied), as SQLite reports them."""
        if mode not in {"PASSIVE", "FULL", "RESTART", "TRUNCATE"}:
            raise ValueError(f"unknown checkpoint mode {mode!r}")
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return (int(row[0]), int(row[1]), int(row[2])) if row is not None else (0, 0, 0)

    def _log_bytes(self) -> int:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return 0
        try:
            return Path(f"{database}-wal").stat().st_size
        except OSError:
            return 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self._log_bytes() < self.min_log_bytes:
                continue  # as rarely as SQLite itself would: each checkpoint costs an fsync
            try:
                self.checkpoint()
            except Exception:
                log.warning("app database checkpoint failed", exc_info=True)

    def start(self) -> None:
        """Start checkpointing (once; SQLite only)."""
        if not self.applies or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="retain-wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and truncate the log (what the last connection's close would do)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        try:
            self.checkpoint("TRUNCATE")
        except Exception:
            log.warning("app database checkpoint at shutdown failed", exc_info=True)
