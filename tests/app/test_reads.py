"""The serving index turns a customer's rows into JSON-ready values a column at a time; the
values are exactly what :func:`retain.app._frames.json_value` makes of each cell."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from retain.app._frames import json_value
from retain.app._reads import CustomerIndex


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
