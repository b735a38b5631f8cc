"""The service's SQLite checkpoints run in a background thread, never inside a commit
(``retain.app.db.WalCheckpointer``): the commit that crossed SQLite's 1,000-page line used to
wait for the file's fsync while every audited read queued behind it (benchmarks/service.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from retain.app.db import WalCheckpointer, make_engine
from retain.app.main import create_app


def _fill(engine: Engine, rows: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    for _ in range(rows):  # one commit each, like audited reads
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t (v) VALUES (?)", ("x" * 2000,))


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_the_service_engine_leaves_checkpoints_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    plain = make_engine(f"sqlite:///{path}")
    assert _autocheckpoint(plain) == 1000  # commands keep SQLite's own checkpoints
    plain.dispose()
    engine = make_engine(f"sqlite:///{path}", background_checkpoints=True)
    assert _autocheckpoint(engine) == 0
    _fill(engine, 1200)  # ~2,400 pages: SQLite itself would have checkpointed twice
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 1000 * 4096  # nothing copied the log inside the commits
    checkpointer = WalCheckpointer(engine, interval_s=0.05, min_log_bytes=1 << 20)
    done: list[tuple[int, int, int]] = []
    real = checkpointer.checkpoint

    def recorded(mode: str = "PASSIVE") -> tuple[int, int, int]:
        done.append(real(mode))
        return done[-1]

    checkpointer.checkpoint = recorded  # type: ignore[method-assign]
    checkpointer.start()
    deadline = time.monotonic() + 30
    while not done and time.monotonic() < deadline:  # the thread sees the log's size by itself
        time.sleep(0.05)
    busy, in_log, copied = done[0]
    assert busy == 0 and in_log > 1000 and copied == in_log
    checkpointer.stop()
    assert wal.stat().st_size == 0  # truncated at stop
    engine.dispose()


def test_the_app_runs_the_thread_for_its_lifetime(settings: Any, loaded_warehouse: Any) -> None:
    app = create_app(settings, warehouse=loaded_warehouse, migrate=True)
    sqlite = app.state.engine.dialect.name == "sqlite"
    if sqlite:
        assert _autocheckpoint(app.state.engine) == 0
    with TestClient(app):
        running = {t.name for t in threading.enumerate()}
        assert ("retain-wal-checkpoint" in running) is sqlite  # PostgreSQL: nothing to do
    assert "retain-wal-checkpoint" not in {t.name for t in threading.enumerate()}


def test_a_postgres_engine_has_nothing_to_checkpoint() -> None:
    engine = make_engine("postgresql://u@127.0.0.1:1/none")  # never connected
    checkpointer = WalCheckpointer(engine)
    assert not checkpointer.applies
    checkpointer.start()
    checkpointer.stop()  # nothing started, nothing to stop
