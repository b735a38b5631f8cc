"""The issue-5 size on one machine (issue 21): 1M customers, 50M orders, 100M events.

``analytics.py`` builds its business in memory (13.7 GB at 200,000 customers). This script
streams it to Parquet with ``_large_business.write_business`` (one chunk of customers at a
time), loads the Parquet into the canonical DuckDB tables, then times each analytic path in
retain against a hand-written DuckDB SQL floor computing the same columns:

- period metrics, the monthly cohort matrix and lifecycle (the floors of ``analytics.py``);
- the RFM summary the CLV models read (``rfm_summary``, weeks, as of a date);
- the churn feature snapshot (``feature_snapshot``, the floor of ``churn.py``), with ``--churn``;
- period metrics with activity = any event (no floor; the 100M-row scan).

Every stage runs in its own process (generation, load, retain, the floor), so each peak RSS
(VmHWM) is its own; the results of retain and of the floor are written to Parquet and compared
before the times are printed. Both query processes get the same DuckDB ``memory_limit``.

    python benchmarks/analytics_large.py                              # 20,000 customers
    nice -n 10 python benchmarks/analytics_large.py --customers 1000000 --churn \\
        --folder /tmp/bigdata                                         # the issue's size
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _large_business as lb
from analytics import SQL_COHORTS, SQL_LIFECYCLE, SQL_PERIODS, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
LOADED = ("customers", "orders", "events", "subscriptions", "interactions")

SQL_RFM = """
WITH days AS (
  SELECT customer_id, date_trunc('day', ordered_at) AS day, sum(amount::DOUBLE) AS spend
  FROM orders
  WHERE (status IS NULL OR status = 'completed') AND amount >= 0 AND customer_id IS NOT NULL
    AND ordered_at < $asof::TIMESTAMP + INTERVAL 1 DAY
  GROUP BY ALL
), per AS (
  SELECT customer_id, min(day) AS first_day, max(day) AS last_day, count(*) AS n,
         sum(spend) AS total, arg_min(spend, day) AS first_spend
  FROM days GROUP BY customer_id
)
SELECT customer_id, CAST(n - 1 AS DOUBLE) AS frequency,
       date_diff('day', first_day, last_day) / 7.0 AS recency,
       date_diff('day', first_day, $asof::TIMESTAMP) / 7.0 AS "T",
       CASE WHEN n > 1 THEN (total - first_spend) / (n - 1) ELSE 0 END AS monetary_value
FROM per
"""


def _churn_params(as_of: pd.Timestamp) -> dict[str, pd.Timestamp]:
    """The parameters of ``churn.FLOOR_SQL`` for a reference date."""
    days = {"d30": 30, "d60": 60, "d90": 90, "d180": 180}
    return {"asof": as_of, **{k: as_of - pd.Timedelta(days=v) for k, v in days.items()}}


def _timed(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last call's result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _save(result: Any, path: Path) -> None:
    table = result if isinstance(result, pa.Table) else pa.Table.from_pandas(result)
    pq.write_table(table, path)


# --- the stages, each in its own process ----------------------------------------------------


def stage_generate(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    t0, cpu = time.perf_counter(), time.process_time()
    written = lb.write_business(
        folder / "parquet",
        args.customers,
        orders_per_customer=args.orders_per_customer,
        events_per_customer=args.events_per_customer,
        chunk_customers=args.chunk_customers,
        seed=args.seed,
    )
    return {
        "rows": written.rows,
        "chunks": written.chunks,
        "seconds": time.perf_counter() - t0,
        "cpu_s": time.process_time() - cpu,
        "parquet_gb": sum(p.stat().st_size for p in (folder / "parquet").rglob("*")) / 1e9,
    }


def stage_load(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The canonical tables (retain's DDL), filled from the Parquet folders by DuckDB."""
    import retain.warehouse as wh

    db = folder / "bench.duckdb"
    con = wh.connect(f"duckdb:///{db}")
    wh.create_tables(con, LOADED)
    raw = con.con
    raw.execute(f"SET memory_limit = '{args.memory_limit}'")
    raw.execute("SET preserve_insertion_order = false")
    raw.execute(f"SET temp_directory = '{folder / 'spill'}'")
    seconds: dict[str, float] = {}
    for table in LOADED:
        t0 = time.perf_counter()
        source = folder / "parquet" / table / "*.parquet"
        raw.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet('{source}')")
        raw.execute("CHECKPOINT")
        seconds[table] = time.perf_counter() - t0
    con.disconnect()
    return {"seconds": seconds, "duckdb_gb": db.stat().st_size / 1e9}


def stage_retain(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    import ibis

    from retain import metrics
    from retain.config import ChurnDefinition
    from retain.features import feature_snapshot
    from retain.models.clv import rfm_summary

    con = ibis.duckdb.connect(str(folder / "bench.duckdb"), read_only=True)
    con.raw_sql(f"SET memory_limit = '{args.memory_limit}'")
    orders = con.table("orders")
    as_of = pd.Timestamp(args.as_of)
    work: dict[str, Callable[[], Any]] = {
        "periods": lambda: metrics.period_metrics(orders).to_pandas(),
        "cohorts": lambda: metrics.cohort_retention(orders).to_pandas(),
        "lifecycle": lambda: metrics.lifecycle(orders).to_pandas(),
        "rfm": lambda: rfm_summary(orders, as_of=as_of, time_unit="week").to_pyarrow(),
    }
    if args.churn:
        definition = ChurnDefinition(activity="orders")
        work["churn"] = lambda: feature_snapshot(
            con, as_of=as_of, definition=definition
        ).to_pyarrow()
    events = metrics.event_activity(con.table("events"))
    work["periods_events"] = lambda: metrics.period_metrics(None, activity=events).to_pandas()
    return _run(work, folder, "retain", args.repeat)


def stage_sql(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(folder / "bench.duckdb"), read_only=True)
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    as_of = pd.Timestamp(args.as_of)
    work: dict[str, Callable[[], Any]] = {
        "periods": lambda: con.execute(SQL_PERIODS).df(),
        "cohorts": lambda: con.execute(SQL_COHORTS).df(),
        "lifecycle": lambda: con.execute(SQL_LIFECYCLE).df(),
        "rfm": lambda: con.execute(SQL_RFM, {"asof": as_of}).to_arrow_table(),
    }
    if args.churn:
        from churn import FLOOR_SQL

        params = _churn_params(as_of)
        work["churn"] = lambda: con.execute(FLOOR_SQL, params).to_arrow_table()
    return _run(work, folder, "sql", args.repeat)


def _run(
    work: dict[str, Callable[[], Any]], folder: Path, variant: str, repeat: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    (folder / "results").mkdir(exist_ok=True)
    for key, fn in work.items():
        out[key], result = _timed(repeat, fn)
        _save(result, folder / "results" / f"{variant}-{key}.parquet")
        print(f"  {variant} {key}: {out[key]:.2f} s", file=sys.stderr, flush=True)
    return out


STAGES = {"generate": stage_generate, "load": stage_load, "retain": stage_retain, "sql": stage_sql}


# --- the agreement check ---------------------------------------------------------------------


def _frames(folder: Path, key: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    def read(variant: str) -> pd.DataFrame:
        frame: pd.DataFrame = pq.read_table(
            folder / "results" / f"{variant}-{key}.parquet"
        ).to_pandas()
        return frame

    return read("retain"), read("sql")


def _close(a: pd.Series, b: pd.Series) -> bool:
    x, y = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
    return bool(np.allclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-6, equal_nan=True))


def check_agreement(folder: Path, churn: bool) -> None:
    """retain and the floor computed the same numbers, or the times compare different work."""
    mine, floor = _frames(folder, "periods")
    for col in ("customers_start", "customers_end", "new_customers", "lost_customers"):
        assert mine[col].astype(int).tolist() == floor[col].astype(int).tolist(), col
    assert _close(mine.revenue, floor.revenue), "revenue"
    mine, floor = _frames(folder, "cohorts")
    assert mine.active.astype(int).tolist() == floor.active.astype(int).tolist(), "active"
    assert _close(mine.revenue, floor.revenue), "cohort revenue"
    mine, floor = _frames(folder, "lifecycle")
    wide = mine.pivot(index="period_start", columns="stage", values="customers")
    for stage in ("new", "returning", "resurrected", "dormant", "churned"):
        assert wide[stage].astype(int).tolist() == floor[stage].astype(int).tolist(), stage
    keys = ["rfm", "churn"] if churn else ["rfm"]
    for key in keys:
        mine, floor = (
            f.sort_values("customer_id").reset_index(drop=True) for f in _frames(folder, key)
        )
        assert mine.customer_id.equals(floor.customer_id), key
        for col in mine.columns[1:]:
            a, b = mine[col], floor[col]
            if a.dtype == object:
                assert ((a == b) | (a.isna() & b.isna())).all(), (key, col)
            else:
                assert _close(a, b), (key, col)


# --- the driver --------------------------------------------------------------------------------


def child(stage: str, folder: Path, argv: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--stage", stage, "--folder", str(folder), *argv]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders-per-customer", type=float, default=50)
    parser.add_argument("--events-per-customer", type=float, default=100)
    parser.add_argument("--chunk-customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--as-of", default="2025-07-01", help="date of the RFM summary and churn snapshot"
    )
    parser.add_argument("--churn", action="store_true", help="also time the churn feature snapshot")
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit for every stage")
    parser.add_argument("--folder", help="where the data go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the data afterwards")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        out = STAGES[args.stage](Path(args.folder), args)
        print(json.dumps({**out, "peak_rss_mb": peak_rss_mb()}))
        return
    argv = [
        "--customers", str(args.customers),
        "--orders-per-customer", str(args.orders_per_customer),
        "--events-per-customer", str(args.events_per_customer),
        "--chunk-customers", str(args.chunk_customers),
        "--repeat", str(args.repeat),
        "--seed", str(args.seed),
        "--as-of", args.as_of,
        "--memory-limit", args.memory_limit,
    ] + (["--churn"] if args.churn else [])  # fmt: skip
    folder = Path(args.folder or tempfile.mkdtemp(prefix="retain-bench-large-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()}; data in {folder}", flush=True)
    try:
        gen = child("generate", folder, argv)
        rows = gen["rows"]
        print(
            f"generated {rows['customers']:,} customers, {rows['orders']:,} orders, "
            f"{rows['events']:,} events, {rows['subscriptions']:,} subscriptions, "
            f"{rows['interactions']:,} interactions in {gen['chunks']} chunks: "
            f"{gen['seconds']:.1f} s wall, {gen['cpu_s']:.1f} s CPU, peak RSS "
            f"{gen['peak_rss_mb']:.0f} MB, {gen['parquet_gb']:.2f} GB Parquet",
            flush=True,
        )
        load = child("load", folder, argv)
        print(
            "loaded into the canonical DuckDB tables: "
            + ", ".join(f"{t} {s:.1f} s" for t, s in load["seconds"].items())
            + f"; peak RSS {load['peak_rss_mb']:.0f} MB, {load['duckdb_gb']:.2f} GB file",
            flush=True,
        )
        print(f"load average {os.getloadavg()}", flush=True)
        results = {v: child(v, folder, argv) for v in ("retain", "sql")}
        check_agreement(folder, args.churn)
        print(
            "results agree: retain == hand-written SQL ("
            + ", ".join(k for k in results["sql"] if k != "peak_rss_mb")
            + ")"
        )
        print(f"\n{'result':<16}{'retain (s)':>12}{'SQL floor (s)':>15}{'retain/floor':>14}")
        for key in [k for k in results["sql"] if k != "peak_rss_mb"]:
            a, b = results["retain"][key], results["sql"][key]
            print(f"{key:<16}{a:>12.2f}{b:>15.2f}{a / b:>14.2f}")
        print(f"{'periods (events)':<16}{results['retain']['periods_events']:>12.2f}{'—':>15}")
        print(
            f"peak RSS (MB): generate {gen['peak_rss_mb']:.0f}, load {load['peak_rss_mb']:.0f}, "
            f"retain {results['retain']['peak_rss_mb']:.0f}, "
            f"sql {results['sql']['peak_rss_mb']:.0f}"
        )
        print(f"load average {os.getloadavg()}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
