"""The warehouse: connect by URL, create canonical tables, atomic writes, on every engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

import retain.warehouse as wh
from retain import _spark
from retain.errors import NotFoundError, UnsupportedBackendError
from retain.schema import TABLES
from retain.warehouse import duckdb_file


def test_create_tables_makes_every_table_with_its_schema(engine: Any) -> None:
    assert set(TABLES) <= set(engine.list_tables())
    schema = engine.table("orders").schema()
    assert str(schema["amount"]) == "decimal(18, 4)"
    assert schema["ordered_at"].is_timestamp()
    assert wh.create_tables(engine) == []  # idempotent


def test_write_replace_then_append(engine: Any) -> None:
    wh.write_table(engine, "scratch", pd.DataFrame({"a": [1, 2]}))
    wh.write_table(engine, "scratch", pd.DataFrame({"a": [3, 4, 5]}))
    wh.write_table(engine, "scratch", pd.DataFrame({"a": [6]}), mode="append")
    got = sorted(wh.read_table(engine, "scratch").to_pandas()["a"].tolist())
    assert got == [3, 4, 5, 6]
    assert not [t for t in engine.list_tables() if t.startswith("_retain_tmp_")]


def test_failed_replace_keeps_the_old_table(warehouse: Any) -> None:
    wh.write_table(warehouse, "scratch", pd.DataFrame({"a": [1, 2]}))
    table = warehouse.table("scratch")
    bad = table.mutate(b=ibis.literal("not a number").cast("int64"))
    with pytest.raises(Exception, match=r"(?i)conver|cast"):
        wh.write_table(warehouse, "scratch", bad)
    assert sorted(wh.read_table(warehouse, "scratch").to_pandas()["a"].tolist()) == [1, 2]
    assert not [t for t in warehouse.list_tables() if t.startswith("_retain_tmp_")]


def test_read_missing_table_names_it_and_hints() -> None:
    con = wh.connect("duckdb://")
    with pytest.raises(NotFoundError) as info:
        wh.read_table(con, "orders")
    assert "'orders'" in info.value.message
    assert info.value.hint is not None and "retain ingest orders" in info.value.hint


def test_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(UnsupportedBackendError, match="mysql") as caught:
        wh.connect("mysql://localhost/db")
    assert "sc://host:15002" in (caught.value.hint or "")


def test_spark_urls_are_local_or_spark_connect() -> None:
    assert _spark.is_spark_url("pyspark://local")
    assert _spark.is_spark_url("sc://spark.internal:15002/;use_ssl=true;token=x")
    assert _spark.is_spark_url("SC://host")
    assert not _spark.is_spark_url("duckdb:///retain.duckdb")
    assert not _spark.is_spark_url("spark-warehouse")


def test_a_metastore_another_process_holds_is_seen_before_spark_starts(tmp_path: Path) -> None:
    """Derby's POSIX lock on dbex.lck, taken by another process, marks the local catalog busy."""
    pytest.importorskip("fcntl")
    assert not _spark._metastore_held(tmp_path)  # no metastore yet
    lock = tmp_path / _spark.METASTORE / "dbex.lck"
    lock.parent.mkdir()
    lock.write_bytes(b"")
    assert not _spark._metastore_held(tmp_path)  # a lock file left by a crashed process
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'r+b'); "
            "fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
            str(lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert _spark._metastore_held(tmp_path)
    finally:
        holder.communicate("")
    assert not _spark._metastore_held(tmp_path)


@pytest.mark.postgres
def test_postgres_round_trip(postgres_warehouse: Any) -> None:
    wh.write_table(postgres_warehouse, "scratch", pd.DataFrame({"a": [1, 2]}))
    wh.write_table(postgres_warehouse, "scratch", pd.DataFrame({"a": [7]}))
    assert wh.read_table(postgres_warehouse, "scratch").to_pandas()["a"].tolist() == [7]
    assert str(postgres_warehouse.table("orders").schema()["amount"]) == "decimal(18, 4)"


def _scores(customers: list[str], as_of: str, version: str, clv: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customers,
            "as_of": pd.Timestamp(as_of),
            "model_version": version,
            "frequency": 1.0,
            "recency": 1.0,
            "T": 2.0,
            "monetary_value": 10.0,
            "probability_alive": 0.5,
            "expected_purchases": 1.0,
            "expected_spend": 10.0,
            "clv": clv,
            "currency": "USD",
            "horizon_months": 12,
        }
    )


def _check_replace_scope(con: Any) -> None:
    scope = ("as_of", "model_version")
    first = wh.replace_scope(
        con, "clv_scores", _scores(["a", "b"], "2024-01-01", "v1", 1.0), scope=scope
    )
    assert (first.inserted, first.deleted) == (2, 0)
    other = _scores(["a", "c"], "2024-02-01", "v1", 5.0)
    assert wh.replace_scope(con, "clv_scores", other, scope=scope).inserted == 2
    # the first run again, without b and with a new value for a: b goes, the other run stays
    again = wh.replace_scope(
        con, "clv_scores", _scores(["a"], "2024-01-01", "v1", 2.0), scope=scope
    )
    assert (again.inserted, again.updated, again.unchanged, again.deleted) == (0, 1, 0, 1)
    rows = con.table("clv_scores").to_pandas().sort_values(["as_of", "customer_id"])
    got = list(
        zip(rows["as_of"].dt.strftime("%m-%d"), rows["customer_id"], rows["clv"], strict=True)
    )
    assert got == [("01-01", "a", 2.0), ("02-01", "a", 5.0), ("02-01", "c", 5.0)]
    # writing the same run twice changes nothing
    same = wh.replace_scope(con, "clv_scores", _scores(["a"], "2024-01-01", "v1", 2.0), scope=scope)
    assert (same.inserted, same.updated, same.unchanged, same.deleted) == (0, 0, 1, 0)


def test_replace_scope_rewrites_one_run_and_keeps_the_others() -> None:
    _check_replace_scope(wh.connect("duckdb://"))


@pytest.mark.spark
def test_replace_scope_on_pyspark(spark_warehouse: Any) -> None:
    _check_replace_scope(spark_warehouse)


@pytest.mark.postgres
def test_replace_scope_on_postgres(postgres_warehouse: Any) -> None:
    _check_replace_scope(postgres_warehouse)


_HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("open", flush=True)
time.sleep(60)
"""


def _holding(path: str, mode: str, *, record: bool) -> subprocess.Popen[str]:
    """Another process with ``path`` open (``ro`` or ``rw``), recorded as its holder or not."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, path, mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
    if record:
        row = {"pid": proc.pid, "command": "retain serve --port 8000", "since": "2026-12-06T10:00"}
        Path(path + wh.HOLDER_SUFFIX).write_text(json.dumps(row))
    return proc


def test_a_held_file_opens_read_only_and_a_write_names_the_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    seed = wh.connect(f"duckdb:///{path}")
    wh.write_table(seed, "t", pd.DataFrame({"a": [1, 2]}))
    seed.disconnect()
    proc = _holding(path, "ro", record=True)
    try:
        con = wh.connect(f"duckdb:///{path}")
        assert wh.is_read_only(con)
        assert wh.read_table(con, "t").count().execute() == 2  # reads work
        with pytest.raises(wh.WarehouseBusyError) as caught:
            wh.write_table(con, "t", pd.DataFrame({"a": [3]}), mode="append")
        assert f"pid {proc.pid}" in caught.value.message
        assert "retain serve --port 8000" in caught.value.message
        assert "2026-12-06T10:00" in caught.value.message
        assert caught.value.hint and "POST /api/v1/ingest/TABLE" in caught.value.hint
        con.disconnect()
    finally:
        proc.kill()
        proc.wait()
    assert wh.holder_of(path) is None  # the record of a dead process is ignored
    con = wh.connect(f"duckdb:///{path}")
    assert not wh.is_read_only(con)
    wh.write_table(con, "t", pd.DataFrame({"a": [3]}), mode="append")
    con.disconnect()


def test_a_file_open_for_writing_elsewhere_names_the_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "w.duckdb")
    wh.connect(f"duckdb:///{path}").disconnect()
    monkeypatch.setattr(duckdb_file, "OPEN_WAIT_S", 0.2)
    proc = _holding(path, "rw", record=False)
    try:
        with pytest.raises(wh.WarehouseBusyError) as caught:
            wh.connect(f"duckdb:///{path}")
        assert f"pid {proc.pid}" in caught.value.message
    finally:
        proc.kill()
        proc.wait()


def test_hold_and_release_are_this_process_s_record(tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    wh.hold(path, "retain serve")
    record = json.loads(Path(path + wh.HOLDER_SUFFIX).read_text())
    assert record["pid"] == os.getpid() and record["command"] == "retain serve"
    assert wh.holder_of(path) is None  # this process is not "another" holder
    wh.release(path)
    assert not Path(path + wh.HOLDER_SUFFIX).exists()
    assert wh.duckdb_path("duckdb:///a/b.duckdb") == "a/b.duckdb"
    assert wh.duckdb_path("duckdb://") is None and wh.duckdb_path("postgres://h/db") is None


def test_a_write_open_waits_for_a_reader_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader elsewhere: a write open waits OPEN_WAIT_S, then says the other process reads."""
    path = str(tmp_path / "w.duckdb")
    wh.connect(f"duckdb:///{path}").disconnect()
    monkeypatch.setattr(duckdb_file, "OPEN_WAIT_S", 0.6)
    proc = _holding(path, "ro", record=False)
    try:
        started = time.monotonic()
        with pytest.raises(wh.WarehouseBusyError) as caught:
            wh.connect(f"duckdb:///{path}", write=True)
        assert time.monotonic() - started >= 0.6
        assert f"pid {proc.pid}" in caught.value.message
        assert "reading" in caught.value.message and "writing" not in caught.value.message
        con = wh.connect(f"duckdb:///{path}")  # a plain open reads at once, read-only
        assert wh.is_read_only(con)
        with pytest.raises(wh.WarehouseBusyError) as refused:
            wh.write_table(con, "t", pd.DataFrame({"a": [1]}))
        assert "reading" in refused.value.message and f"pid {proc.pid}" in refused.value.message
        con.disconnect()
    finally:
        proc.kill()
        proc.wait()


def test_a_write_open_gets_the_file_when_the_reader_closes_within_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "w.duckdb")
    wh.connect(f"duckdb:///{path}").disconnect()
    monkeypatch.setattr(duckdb_file, "OPEN_WAIT_S", 10.0)
    proc = _holding(path, "ro", record=False)
    timer = threading.Timer(0.5, proc.kill)
    timer.start()
    try:
        con = wh.connect(f"duckdb:///{path}", write=True)
        assert not wh.is_read_only(con)
        wh.write_table(con, "t", pd.DataFrame({"a": [1]}))
        con.disconnect()
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()


def test_a_crashed_holder_s_record_does_not_hold_once_its_pid_is_reused(tmp_path: Path) -> None:
    """The record names a running pid that started at another time: a reused pid, not the holder."""
    path = str(tmp_path / "w.duckdb")
    wh.hold(path, "retain serve")
    record = json.loads(Path(path + wh.HOLDER_SUFFIX).read_text())
    assert record["host"] and record["started"]
    other = os.getppid()  # alive, and not this process
    Path(path + wh.HOLDER_SUFFIX).write_text(json.dumps(record | {"pid": other, "started": "1"}))
    assert wh.holder_of(path) is None
    con = wh.connect(f"duckdb:///{path}")
    assert not wh.is_read_only(con)
    con.disconnect()


def test_a_live_holder_is_held_and_the_hint_names_the_holder_file(tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import retain.warehouse as w, sys, time; "
            "w.hold(sys.argv[1], 'retain serve'); print('held', flush=True); time.sleep(60)",
            path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        found = wh.holder_of(path)
        assert found is not None and found["pid"] == proc.pid
        error = wh.busy_error(path)
        assert error.hint and path + wh.HOLDER_SUFFIX in error.hint
        elsewhere = found | {"host": "another-host", "started": "1"}
        Path(path + wh.HOLDER_SUFFIX).write_text(json.dumps(elsewhere))
        assert wh.holder_of(path) is not None  # another host's process: not checkable here
    finally:
        proc.kill()
        proc.wait()
