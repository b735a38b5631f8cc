"""Benchmark: N order rows from CSV into the warehouse, against DuckDB's own read_csv (issue 4).

The floor is DuckDB reading the same file straight into a table
(``CREATE TABLE orders AS SELECT * FROM read_csv(...)``): no validation, no mapping, no merge.
``retain.ingest`` does the full job on top (one parse casting the text to the canonical types
with every row rule, key uniqueness, the customer reference check, the keyed merge and the batch
record). Each side runs
in its own child process so its peak RSS can be read from ``getrusage(RUSAGE_CHILDREN)``.

Targets (issue 4): retain within 1.5x of the floor's wall time, peak RSS under 2 GB.

Usage::

    .venv/bin/python benchmarks/ingest.py              # 10,000,000 rows (the issue's size)
    .venv/bin/python benchmarks/ingest.py --rows 1000000
    .venv/bin/python benchmarks/ingest.py --rows 3000000 --repeat 3 --json

``--repeat N`` measures floor and retain N times alternately on the same file (a shared machine
drifts; a ratio of neighbouring runs is steadier than one of runs minutes apart) and prints each
pair with the 1-minute load average before it. CPU time (all threads) is the figure to read
when others share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD_FLOOR = """
import sys, time, duckdb
path, db = sys.argv[1], sys.argv[2]
con = duckdb.connect(db)
t0, c0 = time.perf_counter(), time.process_time()
con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{path}')")
n = con.execute("SELECT count(*) FROM orders").fetchone()[0]
import resource
print(time.perf_counter() - t0, time.process_time() - c0, n,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CHILD_RETAIN = """
import sys, time
import retain.warehouse as wh
from retain.config import Settings
from retain.ingest import ingest
path, db, customers = sys.argv[1], sys.argv[2], sys.argv[3]
settings = Settings(warehouse_url=f"duckdb:///{db}")
con = wh.connect(settings=settings)
wh.create_tables(con)
ingest("customers", customers, con=con, settings=settings)
t0, c0 = time.perf_counter(), time.process_time()
report = ingest("orders", path, con=con, settings=settings)
import resource
print(time.perf_counter() - t0, time.process_time() - c0, report.rows_inserted,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def generate(path: Path, customers_path: Path, rows: int, n_customers: int) -> None:
    """Write ``rows`` orders over ``n_customers`` customers with DuckDB (fast, seeded)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SELECT setseed(0.7)")
    con.execute(
        f"""COPY (
          SELECT 'o' || i AS order_id,
                 'c' || (hash(i) % {n_customers}) AS customer_id,
                 strftime(TIMESTAMP '2023-01-01'
                            + to_seconds(CAST(hash(i * 7) % 47304000 AS BIGINT)),
                          '%Y-%m-%dT%H:%M:%S') AS ordered_at,
                 CAST(round(5 + (hash(i * 13) % 50000) / 100.0, 2) AS VARCHAR) AS amount,
                 'JPY' AS currency,
                 CASE WHEN i % 50 = 0 THEN 'returned' ELSE 'completed' END AS status
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.execute(
        f"COPY (SELECT 'c' || i AS customer_id FROM range({n_customers}) t(i)) "
        f"TO '{customers_path}' (HEADER)"
    )


def run_child(code: str, *args: str) -> tuple[float, float, int, float]:
    """Run ``code`` in a fresh interpreter; (wall s, CPU s, rows, its peak RSS in MB).

    Wall and CPU time (all threads, ``time.process_time``) cover the load only, not start-up.

    The child reports its own ``getrusage(RUSAGE_SELF).ru_maxrss`` (kB on Linux), which is what
    ``RUSAGE_CHILDREN`` would give for it alone.
    """
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    seconds, cpu, rows, peak_kb = out.stdout.split()[-4:]
    return float(seconds), float(cpu), int(rows), int(peak_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--repeat", type=int, default=1, help="alternate floor and retain N times")
    args = parser.parse_args()
    pairs = []
    with tempfile.TemporaryDirectory(prefix="retain-bench-") as tmp:
        root = Path(tmp)
        csv, customers = root / "orders.csv", root / "customers.csv"
        t0 = time.perf_counter()
        generate(csv, customers, args.rows, args.customers)
        size = csv.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} orders ({size:,.0f} MB) in {time.perf_counter() - t0:.1f} s"
        )
        for i in range(args.repeat):
            load = os.getloadavg()[0]
            floor_s, floor_cpu, floor_rows, floor_rss = run_child(
                CHILD_FLOOR, str(csv), str(root / f"floor{i}.duckdb")
            )
            retain_s, retain_cpu, retain_rows, retain_rss = run_child(
                CHILD_RETAIN, str(csv), str(root / f"retain{i}.duckdb"), str(customers)
            )
            assert floor_rows == retain_rows == args.rows, (floor_rows, retain_rows)
            pairs.append(
                {
                    "load_1min": round(load, 2),
                    "floor_cpu_s": round(floor_cpu, 2),
                    "retain_cpu_s": round(retain_cpu, 2),
                    "cpu_ratio": round(retain_cpu / floor_cpu, 3),
                    "floor_s": round(floor_s, 2),
                    "retain_s": round(retain_s, 2),
                }
            )
            print(f"pair {i + 1}: {json.dumps(pairs[-1])}", flush=True)
            (root / f"floor{i}.duckdb").unlink(missing_ok=True)
            (root / f"retain{i}.duckdb").unlink(missing_ok=True)
    ratio, cpu_ratio = retain_s / floor_s, retain_cpu / floor_cpu
    for label, wall, cpu, rss in [
        ("floor  (duckdb read_csv -> table)", floor_s, floor_cpu, floor_rss),
        ("retain (validated, keyed merge)  ", retain_s, retain_cpu, retain_rss),
    ]:
        print(
            f"{label}: {wall:7.2f} s wall {args.rows / wall:12,.0f} rows/s  "
            f"CPU {cpu:7.2f} s  peak RSS {rss:7,.0f} MB"
        )
    print(
        f"ratio retain / floor: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU (target <= 1.5x); "
        f"retain peak RSS {'<' if retain_rss < 2048 else '>='} 2 GB"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "floor_s": floor_s,
                    "retain_s": retain_s,
                    "floor_cpu_s": floor_cpu,
                    "retain_cpu_s": retain_cpu,
                    "ratio": ratio,
                    "cpu_ratio": cpu_ratio,
                    "floor_rss_mb": floor_rss,
                    "retain_rss_mb": retain_rss,
                    "pairs": pairs,
                }
            )
        )


if __name__ == "__main__":
    main()
