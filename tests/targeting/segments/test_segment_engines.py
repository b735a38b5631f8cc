"""The same segments, grid and movement on DuckDB, PostgreSQL (and local Spark)."""

from __future__ import annotations

from typing import Any

import _targeting_data as data
import ibis
import pandas as pd
import pytest
from _segment_data import AS_OF, ROWS, orders_frame

import retain.warehouse as wh
from retain.schema import get_table
from retain.targeting.segments import (
    frequency_segments,
    movement_matrix,
    movers,
    rfm_scores,
    store_memberships,
    value_risk_grid,
)

EARLIER = "2024-06-05"


def _run(con: Any) -> dict[str, pd.DataFrame]:
    """Every segment computation on ``con``, as sorted frames."""
    if wh.backend_name(con) == "pyspark":
        con.create_table("orders", orders_frame(ROWS), overwrite=True)
    else:
        wh.write_table(con, "orders", orders_frame(ROWS))
    for name, rows in (("churn_scores", data.CHURN), ("clv_scores", data.CLV)):
        schema = get_table(name).ibis_schema()
        frame = pd.DataFrame([{c: row.get(c) for c in schema.names} for row in rows])
        typed = ibis.memtable(frame, schema=schema)
        if wh.backend_name(con) == "pyspark":
            con.create_table(name, typed, overwrite=True)
        else:
            wh.write_table(con, name, typed)
    orders = con.table("orders")
    out: dict[str, pd.DataFrame] = {}
    for bins in (3, 5):
        frame = rfm_scores(orders, AS_OF, bins=bins).to_pandas()
        out[f"rfm{bins}"] = frame.sort_values("customer_id", ignore_index=True)
    out["frequency"] = (
        frequency_segments(orders, AS_OF).to_pandas().sort_values("customer_id", ignore_index=True)
    )
    out["grid"] = value_risk_grid(con).to_pandas().sort_values("customer_id", ignore_index=True)
    for day in (EARLIER, AS_OF):
        store_memberships(con, "rfm", day, rfm_scores(orders, day))
    out["matrix"] = movement_matrix(con, "rfm", EARLIER, AS_OF).reset_index()
    out["movers"] = movers(con, "rfm", EARLIER, AS_OF).to_pandas()
    return out


def _same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    assert got.keys() == want.keys()
    for name, frame in want.items():
        other = got[name]
        for col in frame.columns:
            if str(frame[col].dtype).startswith("datetime64"):
                other[col] = other[col].astype("datetime64[us]")
                frame[col] = frame[col].astype("datetime64[us]")
        pd.testing.assert_frame_equal(
            other.reset_index(drop=True),
            frame.reset_index(drop=True),
            check_dtype=False,
            rtol=1e-12,
            obj=name,
        )


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    con = wh.connect("duckdb://")
    wh.create_tables(con)
    return _run(con)


def test_reference_is_not_empty(reference: dict[str, pd.DataFrame]) -> None:
    assert len(reference["rfm5"]) == 10
    assert len(reference["grid"]) == 4
    assert len(reference["movers"]) > 0


@pytest.mark.postgres
def test_segments_are_identical_on_postgres(
    postgres_warehouse: Any, reference: dict[str, pd.DataFrame]
) -> None:
    _same(_run(postgres_warehouse), reference)


@pytest.mark.spark
def test_segments_are_identical_on_spark(
    spark_warehouse: Any, reference: dict[str, pd.DataFrame]
) -> None:
    _same(_run(spark_warehouse), reference)
