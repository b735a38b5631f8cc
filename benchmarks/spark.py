"""Spark benchmark (issue 21 item 4): the analytic paths on local[2] PySpark and on a local Spark
Connect server, stage by stage, against DuckDB on the same data.

For each size (``--sizes ORDERS:EVENTS,...``; the issue's is ``1e7:1e8``) the streaming
generator (``_large_business``, 50 orders per customer) writes the business to Parquet once;
then each engine runs in its own process, one after the other:

- ``duckdb``: the Parquet loaded into DuckDB tables (``register`` = the load: DuckDB's native
  storage), then the queries;
- ``pyspark``: ``pyspark://local`` (``local[2]``, driver 4 GB, what retain starts), the Parquet
  folders registered as views (``register``: Spark's tables are Parquet already);
- ``connect``: the same through a Spark Connect server (``local[2]``, driver 4 GB) started from
  the installed PySpark with the tests' launcher (``tests/backends/conftest.py``); the client is
  this script's child process, as a team's retain would be.

Stages: ``register``; ``periods`` (monthly period metrics from orders); ``cohorts`` (the monthly
cohort matrix); ``rfm`` (the RFM summary the CLV models read, to Arrow); ``churn`` (the churn
feature snapshot of every customer at risk, to Arrow); ``events`` (monthly period metrics with
activity = any event: the scan of all events). Each engine's results are compared with DuckDB's
before the times are printed. With three or more sizes the script fits ``t = a + b x rows`` per
stage and engine (the cost model in docs/scale.md).

    python benchmarks/spark.py                                   # one small size: 1e5:1e6
    nice -n 10 python benchmarks/spark.py --sizes 1e6:1e7,3e6:3e7,1e7:1e8 --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _large_business as lb
from analytics import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("customers", "orders", "events", "subscriptions", "interactions")
STAGES = ("register", "periods", "cohorts", "rfm", "churn", "events")
ENGINES = ("duckdb", "pyspark", "connect")
AS_OF = pd.Timestamp("2025-07-01")
SPARK_CONF = {  # the Spark Connect server gets the settings of retain's local session
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
}


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run_engine(engine: str, data: Path, url: str | None) -> dict[str, Any]:
    """Every stage on ``engine`` (in this process); times, and the results under ``data``."""
    import ibis

    import retain.warehouse as wh
    from retain import metrics
    from retain.config import ChurnDefinition, Settings
    from retain.features import feature_snapshot
    from retain.models.clv import rfm_summary

    parquet = data / "parquet"
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    if engine == "duckdb":
        con: Any = ibis.duckdb.connect(str(data / f"{engine}.duckdb"))

        def register() -> None:
            for name in TABLES:
                source = parquet / name / "*.parquet"
                con.raw_sql(f"CREATE OR REPLACE TABLE {name} AS FROM read_parquet('{source}')")

    else:
        settings = Settings(spark_warehouse_dir=data / "spark-warehouse")
        con = wh.connect(url or "pyspark://local", settings=settings)
        session = con._session

        def register() -> None:
            for name in TABLES:
                session.read.parquet(str(parquet / name)).createOrReplaceTempView(name)

    times["start"] = time.perf_counter() - t0
    times["register"], _ = _timed(register)
    tables = {name: con.table(name) for name in TABLES}
    orders = tables["orders"]
    work: dict[str, Callable[[], Any]] = {
        "periods": lambda: metrics.period_metrics(orders).to_pandas(),
        "cohorts": lambda: metrics.cohort_retention(orders).to_pandas(),
        "rfm": lambda: rfm_summary(orders, as_of=AS_OF, time_unit="week").to_pyarrow(),
        "churn": lambda: feature_snapshot(
            tables, as_of=AS_OF, definition=ChurnDefinition(activity="orders")
        ).to_pyarrow(),
        "events": lambda: metrics.period_metrics(
            None, activity=metrics.event_activity(tables["events"])
        ).to_pandas(),
    }
    out = data / "results"
    out.mkdir(exist_ok=True)
    for stage, fn in work.items():
        times[stage], result = _timed(fn)
        table = result if isinstance(result, pa.Table) else pa.Table.from_pandas(result)
        pq.write_table(table, out / f"{engine}-{stage}.parquet")
        print(f"  {engine} {stage}: {times[stage]:.2f} s", file=sys.stderr, flush=True)
    return {"times": times, "peak_rss_mb": peak_rss_mb()}


def check_same(data: Path, engine: str) -> None:
    """``engine`` computed DuckDB's numbers (counts exactly, money to 1e-9)."""

    def read(e: str, stage: str) -> pd.DataFrame:
        frame: pd.DataFrame = pq.read_table(data / "results" / f"{e}-{stage}.parquet").to_pandas()
        return frame

    for stage in work_stages():
        a, b = read("duckdb", stage), read(engine, stage)
        keys = [c for c in ("customer_id", "period_start", "cohort", "period_index") if c in a]
        a = a.sort_values(keys).reset_index(drop=True)
        b = b.sort_values(keys).reset_index(drop=True)
        assert list(a.columns) == list(b.columns) and len(a) == len(b), (engine, stage)
        for col in a.columns:
            x, y = a[col], b[col]
            if pd.api.types.is_numeric_dtype(x) or (x.dtype == object and _decimal(x)):
                ok = np.allclose(
                    x.astype(float), y.astype(float), rtol=1e-9, atol=1e-6, equal_nan=True
                )
            else:
                x, y = x.astype(str), y.astype(str)
                ok = bool((x == y).all())
            assert ok, (engine, stage, col)


def _decimal(col: pd.Series) -> bool:
    from decimal import Decimal

    first = col.dropna()
    return bool(len(first)) and isinstance(first.iloc[0], Decimal)


def work_stages() -> tuple[str, ...]:
    return tuple(s for s in STAGES if s != "register")


@contextmanager
def connect_server(root: Path) -> Iterator[str]:
    """The tests' Spark Connect launcher (tests/backends/conftest.py), with SPARK_CONF."""
    path = ROOT / "tests" / "backends" / "conftest.py"
    spec = importlib.util.spec_from_file_location("retain_backends_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root.mkdir(parents=True, exist_ok=True)
    with module.spark_connect_server(root, **SPARK_CONF) as url:
        yield str(url)


def child(engine: str, data: Path, url: str | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--engine", engine, "--data", str(data)]
    cmd += ["--url", url] if url else []
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares ``t = a + b x rows`` over ``(rows, seconds)``."""
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def rows_of(stage: str, size: dict[str, int]) -> int:
    """The rows a stage reads: events for the event scan, all tables for the load and the
    churn snapshot, orders otherwise."""
    if stage == "events":
        return size["events"]
    if stage in ("register", "churn"):
        return sum(size.values())
    return size["orders"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1e5:1e6", help="ORDERS:EVENTS,... (e.g. 1e7:1e8)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--orders-per-customer", type=float, default=50)
    parser.add_argument("--json", help="write every measurement to this file")
    parser.add_argument("--folder", help="where the data go (default: a temporary folder)")
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(run_engine(args.engine, Path(args.data), args.url)))
        return
    engines = [e for e in args.engines.split(",") if e]
    sizes = [tuple(int(float(v)) for v in s.split(":")) for s in args.sizes.split(",")]
    root = Path(args.folder or tempfile.mkdtemp(prefix="retain-bench-spark-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()}; data in {root}", flush=True)
    records: list[dict[str, Any]] = []
    try:
        t0 = time.perf_counter()
        with connect_server(root / "server") if "connect" in engines else _nothing() as url:
            if url:
                print(f"Spark Connect server listening after {time.perf_counter() - t0:.0f} s")
            for n_orders, n_events in sizes:
                records += run_size(root, n_orders, n_events, engines, url, args)
                if args.json:
                    Path(args.json).write_text(json.dumps(records, indent=1))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if len(sizes) >= 3:
        print_model(records, engines)


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def run_size(
    root: Path,
    n_orders: int,
    n_events: int,
    engines: list[str],
    url: str | None,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    customers = max(1, round(n_orders / args.orders_per_customer))
    data = root / f"{n_orders}-{n_events}"
    t0 = time.perf_counter()
    written = lb.write_business(
        data / "parquet",
        customers,
        orders_per_customer=args.orders_per_customer,
        events_per_customer=n_events / customers,
    )
    size = {t: written.rows[t] for t in TABLES}
    print(
        f"\n{customers:,} customers, {size['orders']:,} orders, {size['events']:,} events "
        f"(generated in {time.perf_counter() - t0:.0f} s); load average {os.getloadavg()}",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for engine in engines:
        results[engine] = child(engine, data, url if engine == "connect" else None)
        if engine != "duckdb" and "duckdb" in results:
            check_same(data, engine)
    checked = [e for e in engines if e != "duckdb" and "duckdb" in results]
    if checked:
        print(f"same results as DuckDB: {', '.join(checked)} (every stage)")
    head = "".join(f"{e + ' (s)':>16}" for e in engines)
    ratios = "".join(f"{e + '/duckdb':>16}" for e in engines if e != "duckdb")
    print(f"{'stage':<10}{head}{ratios if 'duckdb' in engines else ''}")
    for stage in ("start", *STAGES):
        cells = "".join(f"{results[e]['times'][stage]:>16.2f}" for e in engines)
        if "duckdb" in engines:
            base = results["duckdb"]["times"][stage]
            cells += "".join(
                f"{results[e]['times'][stage] / base:>16.1f}"
                for e in engines
                if e != "duckdb" and base > 0
            )
        print(f"{stage:<10}{cells}")
    print(
        "peak RSS of the client process (MB): "
        + ", ".join(f"{e} {results[e]['peak_rss_mb']:.0f}" for e in engines)
        + f"; load average {os.getloadavg()}",
        flush=True,
    )
    shutil.rmtree(data, ignore_errors=True)
    return [
        {"engine": e, "size": size, "customers": customers, **results[e], "load": os.getloadavg()}
        for e in engines
    ]


def print_model(records: list[dict[str, Any]], engines: list[str]) -> None:
    """``t = a + b x rows`` per stage and engine, and what it gives at the issue's size."""
    print("\ncost model, least squares over the sizes run: t = a + b x rows read")
    print(f"{'stage':<10}{'engine':<10}{'a (s)':>10}{'b (s per 1M rows)':>20}{'at 1e7:1e8':>12}")
    target = {"customers": 200_000, "orders": 10**7, "events": 10**8}
    target |= {"subscriptions": 60_000, "interactions": 800_000}
    for stage in STAGES:
        for engine in engines:
            pts = [
                (float(rows_of(stage, r["size"])), float(r["times"][stage]))
                for r in records
                if r["engine"] == engine
            ]
            a, b = fit(pts)
            at = a + b * rows_of(stage, target)
            print(f"{stage:<10}{engine:<10}{a:>10.2f}{b * 1e6:>20.3f}{at:>12.0f}")


if __name__ == "__main__":
    main()
