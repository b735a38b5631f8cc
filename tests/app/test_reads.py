"""The serving index turns a customer's rows into JSON-ready values a column at a time; the
values are exactly what :func:`retain.app._frames.json_value` makes of each cell."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from retain.app import _reads
from retain.app._frames import json_value
from retain.app._reads import CustomerIndex, Reads


def _table() -> pa.Table:
    moments = [dt.datetime(2024, 6, 30, 12, 0, 1, 5), None, dt.datetime(2024, 1, 1), None]
    return pa.table(
        {
            "customer_id": ["a", "a", "a", "b"],
            "n": pa.array([1, None, 3, 4], pa.int64()),
            "x": pa.array([1.5, float("nan"), float("inf"), None], pa.float64()),
            "flag": [True, None, False, True],
            "at": pa.array(moments, pa.timestamp("us")),
            "at_utc": pa.array(moments, pa.timestamp("us", tz="UTC")),
            "at_ns": pa.array(moments, pa.timestamp("ns")),
            "day": pa.array([dt.date(2024, 2, 29), None, dt.date(2024, 1, 1), None]),
            "money": pa.array([Decimal("1.25"), None, Decimal("3"), None], pa.decimal128(10, 2)),
            "text": ["x", None, "", "y"],
            "tags": pa.array([["a"], None, [], ["b"]]),
        }
    )


def test_rows_match_json_value_cell_by_cell() -> None:
    table = _table()
    index = CustomerIndex(table)
    for customer, (start, end) in index.ranges.items():
        expected = [
            {k: json_value(v) for k, v in row.items()}
            for row in table.slice(start, end - start).to_pylist()
        ]
        assert index.rows(customer, 10) == expected
    got = index.rows("a", 10)
    assert got[0]["x"] == 1.5 and got[1]["x"] is None and got[2]["x"] is None
    assert got[0]["at"] == "2024-06-30T12:00:01.000005" and got[1]["at"] is None
    assert got[0]["at_utc"] == "2024-06-30T12:00:01.000005+00:00"
    assert got[0]["money"] == 1.25 and got[0]["day"] == "2024-02-29"


def test_rows_keep_the_limit_and_an_unknown_customer_has_none() -> None:
    index = CustomerIndex(_table())
    assert [r["n"] for r in index.rows("a", 2)] == [1, None]
    assert index.rows("nobody", 5) == []


def _scores_reads(con: Any) -> Reads:
    con.create_table("s", pd.DataFrame({"customer_id": ["a"], "p": [0.1]}), overwrite=True)
    return Reads(con)


def _p(reads: Reads) -> list[float]:
    index = reads.index("s", ("p",))
    assert index is not None
    return [row["p"] for row in index.rows("a", 10)]


def test_off_duckdb_the_index_is_rebuilt_once_it_is_index_ttl_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process re-scores (a CLI write on PostgreSQL): the service sees it within the TTL."""
    reads = _scores_reads(ibis.sqlite.connect())
    assert _p(reads) == [0.1]
    reads.con.insert("s", pd.DataFrame({"customer_id": ["a"], "p": [0.9]}))
    assert _p(reads) == [0.1]  # within INDEX_TTL_S: the index built before
    monkeypatch.setattr(_reads, "INDEX_TTL_S", 0.0)
    assert _p(reads) == [0.9, 0.1]


def test_on_duckdb_the_index_lives_until_the_service_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DuckDB: the service is the only writer, so no time limit; its writes forget the index."""
    reads = _scores_reads(ibis.duckdb.connect())
    assert _p(reads) == [0.1]
    monkeypatch.setattr(_reads, "INDEX_TTL_S", 0.0)
    reads.con.insert("s", pd.DataFrame({"customer_id": ["a"], "p": [0.9]}))
    assert _p(reads) == [0.1]
    reads.forget("s")
    assert _p(reads) == [0.9, 0.1]


def test_tables_leave_out_the_in_memory_tables_a_cursor_has_queried() -> None:
    # Each service thread has its own cursor, and a cursor lists the Ibis memtables it has
    # queried: the at-risk list keys its remembered pages by this set, so it must not depend
    # on which thread read it.
    con = ibis.duckdb.connect()
    con.create_table("orders", pa.table({"customer_id": ["a"], "n": [1]}))
    frame = ibis.memtable(pa.table({"x": [1, 2]}))
    assert int(con.execute(frame.count())) == 2
    assert any(name.startswith("ibis_") for name in con.list_tables())  # what the cursor lists
    assert Reads(con).tables() == frozenset({"orders"})
