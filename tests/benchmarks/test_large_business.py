"""The streaming benchmark generator (benchmarks/_large_business.py, issue 21).

Its folders must load through ``retain ingest`` unchanged (canonical columns and types, no
rejected row), each chunk must be the same whatever follows it (the generator never needs the
whole business in memory), and the business must look like one: skewed order counts with the
requested mean, churn at the rate the lifetime model implies, dates inside the window.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

import retain.warehouse as wh
from retain import metrics
from retain.config import Settings
from retain.ingest import ingest
from retain.schema import get_table

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _large_business as lb


def test_every_table_loads_through_retain_ingest_without_a_reject(tmp_path: Path) -> None:
    written = lb.write_business(
        tmp_path / "data",
        300,
        orders_per_customer=20,
        events_per_customer=30,
        order_lines=True,
        chunk_customers=120,
    )
    assert written.chunks == 3
    con = wh.connect(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    wh.create_tables(con)
    for table in lb.TABLES:
        folder = tmp_path / "data" / table
        assert len(list(folder.glob("*.parquet"))) == 3
        columns = set(pq.read_schema(next(folder.glob("*.parquet"))).names)
        canonical = get_table(table)
        assert set(canonical.required) <= columns <= set(canonical.column_names), table
        report = ingest(table, folder, con=con, settings=Settings(), on_error="reject")
        assert report.rows_rejected == 0, table
        assert report.rows_inserted == written.rows[table] > 0, table
    periods = metrics.period_metrics(con.table("orders")).to_pandas()
    assert periods.period_start.min().strftime("%Y-%m") == "2024-01"
    assert periods.period_start.max().strftime("%Y-%m") == "2025-12"
    assert periods.new_customers.sum() == 300
    con.disconnect()


def test_a_chunk_does_not_depend_on_the_chunks_after_it(tmp_path: Path) -> None:
    lb.write_business(tmp_path / "small", 100, chunk_customers=100, orders_per_customer=5)
    lb.write_business(tmp_path / "large", 300, chunk_customers=100, orders_per_customer=5)
    for table in ("customers", "orders", "events", "subscriptions", "interactions"):
        part = f"{table}/part-00000.parquet"
        assert pq.read_table(tmp_path / "small" / part).equals(
            pq.read_table(tmp_path / "large" / part)
        ), table
    assert len(list((tmp_path / "large" / "orders").glob("*.parquet"))) == 3


def test_the_business_has_skewed_orders_churn_and_dates_in_the_window(tmp_path: Path) -> None:
    written = lb.write_business(tmp_path, 4_000, chunk_customers=1_000)
    assert "order_lines" not in written.rows
    orders = str(tmp_path / "orders" / "*.parquet")
    mean, median, p99, first, last = duckdb.sql(
        "SELECT avg(n), median(n), quantile_cont(n, 0.99), min(lo), max(hi) FROM ("
        "SELECT count(*) n, min(ordered_at) lo, max(ordered_at) hi "
        f"FROM '{orders}' GROUP BY customer_id)"
    ).fetchone()
    assert 42 < mean < 58  # 50 asked for
    assert median < mean / 2 and p99 > 5 * mean  # a few customers place most orders
    assert str(first) >= "2024-01-01" and str(last) < "2026-01-01"
    events = written.rows["events"] / 4_000
    assert 85 < events < 115  # 100 asked for
    # A uniform join time over S and an exponential lifetime of mean S / 3 give
    # P(churned inside the window) = 1 - (1 - e^-3) / 3 = 0.683; subscriptions end on churn.
    expected = 1 - (1 - math.exp(-3)) / 3
    subs = str(tmp_path / "subscriptions" / "*.parquet")
    ended, total = duckdb.sql(f"SELECT count(ended_at), count(*) FROM '{subs}'").fetchone()
    assert total == pytest.approx(0.3 * 4_000, rel=0.1)
    assert ended / total == pytest.approx(expected, abs=0.06)
