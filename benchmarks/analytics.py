"""Analytics benchmark (issue 5): period metrics + monthly cohort matrix + lifecycle.

Compares, on the same synthetic business:

(a) retain on DuckDB (``retain.metrics`` Ibis expressions, executed to pandas);
(b) the floor: one hand-written DuckDB SQL query per result, on the same DuckDB file;
(c) a straightforward pandas implementation (groupby / pivot), on the same data in memory;
(d) optionally (``--spark-customers N``) retain on local PySpark on an N-customer slice.

The issue's scale is 1M customers / 50M orders / 100M events; that does not fit a 2-core
machine shared with other work in minutes, so ``--customers`` scales it (orders and events
per customer stay at the issue's 50 and 100). Each variant runs in its own process so its
peak RSS is its own; data are generated once with numpy and written to Parquet and a DuckDB
file first (not timed). Times are the best of ``--repeat`` runs.

    python benchmarks/analytics.py                       # 20,000 customers (1M orders)
    python benchmarks/analytics.py --customers 1000000   # the issue's size: ~65 GB in memory;
                                                         # analytics_large.py streams it instead
    python benchmarks/analytics.py --kaplan-meier 1e7    # KM: numpy floor, retain, lifelines
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
START = np.datetime64("2024-01-01T00:00:00")
MONTHS = 24


def generate(
    customers: int, orders_per: int, events_per: int, seed: int, folder: Path
) -> dict[str, int]:
    """A shop: customers join over 24 months, buy at a personal rate until a latent churn time."""
    rng = np.random.default_rng(seed)
    span = MONTHS * 30 * 86_400
    join = rng.integers(0, span, customers)
    life = rng.exponential(span / 3, customers)
    n_orders = rng.poisson(orders_per, customers)
    n_orders[n_orders == 0] = 1
    idx = np.repeat(np.arange(customers), n_orders)
    end = np.minimum(join + life, span)
    offsets = rng.random(idx.size) * (end[idx] - join[idx])
    offsets[np.r_[0, np.cumsum(n_orders)[:-1]]] = 0  # the first order at joining
    at = START + (join[idx] + offsets).astype("int64").astype("timedelta64[s]")
    status = np.where(rng.random(idx.size) < 0.97, "completed", "returned")
    ids = np.char.add("c", np.arange(customers).astype(str))
    orders = pd.DataFrame(
        {
            "order_id": np.char.add("o", np.arange(idx.size).astype(str)),
            "customer_id": ids[idx],
            "ordered_at": at.astype("datetime64[us]"),
            "amount": np.round(rng.gamma(2.0, 30.0, idx.size), 2),
            "status": status,
        }
    )
    orders.to_parquet(folder / "orders.parquet", index=False)
    n_events = customers * events_per
    e_idx = rng.integers(0, customers, n_events)
    e_at = START + (join[e_idx] + rng.random(n_events) * (end[e_idx] - join[e_idx])).astype(
        "int64"
    ).astype("timedelta64[s]")
    events = pd.DataFrame(
        {
            "event_id": np.arange(n_events).astype(str),
            "customer_id": ids[e_idx],
            "occurred_at": e_at.astype("datetime64[us]"),
            "name": rng.choice(np.array(["login", "page_view", "session"]), n_events),
        }
    )
    events.to_parquet(folder / "events.parquet", index=False)
    import duckdb

    con = duckdb.connect(str(folder / "bench.duckdb"))
    con.execute(f"CREATE TABLE orders AS SELECT * FROM read_parquet('{folder / 'orders.parquet'}')")
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{folder / 'events.parquet'}')")
    con.close()
    return {"customers": customers, "orders": int(idx.size), "events": n_events}


# --- (b) the floor: hand-written SQL ---------------------------------------------------------

SQL_PERIODS = """
WITH done AS (SELECT customer_id, ordered_at, date_trunc('month', ordered_at) AS m,
                     row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS seq
              FROM orders WHERE status = 'completed' AND amount >= 0),
act AS (SELECT customer_id, m, max(seq) AS top, count(*) AS n FROM done GROUP BY ALL),
flagged AS (SELECT *, lag(m) OVER (PARTITION BY customer_id ORDER BY m) AS prev FROM act),
per AS (SELECT m, count(*) AS e, count(*) FILTER (WHERE prev IS NULL) AS n_new,
               count(*) FILTER (WHERE prev = m - INTERVAL 1 MONTH) AS kept,
               sum(n) AS orders, count(*) FILTER (WHERE top >= 2) AS repeaters FROM flagged GROUP BY m),
money AS (SELECT date_trunc('month', ordered_at) AS m,
                 sum(CASE WHEN status = 'completed' THEN amount ELSE -abs(amount) END) AS revenue
          FROM orders GROUP BY ALL),
spine AS (SELECT unnest(generate_series(min(m), max(m), INTERVAL 1 MONTH)) AS m FROM money)
SELECT s.m AS period_start, coalesce(lag(p.e) OVER (ORDER BY s.m), 0) AS customers_start,
       coalesce(p.e, 0) AS customers_end, coalesce(p.n_new, 0) AS new_customers,
       coalesce(lag(p.e) OVER (ORDER BY s.m), 0) - coalesce(p.kept, 0) AS lost_customers,
       100.0 * (coalesce(lag(p.e) OVER (ORDER BY s.m), 0) - coalesce(p.kept, 0))
             / nullif(lag(p.e) OVER (ORDER BY s.m), 0) AS churn_rate,
       100.0 * (coalesce(p.e, 0) - coalesce(p.n_new, 0)) / nullif(lag(p.e) OVER (ORDER BY s.m), 0) AS retention_rate,
       100.0 * p.repeaters / p.e AS repeat_purchase_rate, 1.0 * p.orders / p.e AS purchase_frequency,
       mo.revenue / p.orders AS average_order_value, coalesce(mo.revenue, 0) AS revenue
FROM spine s LEFT JOIN per p USING (m) LEFT JOIN money mo USING (m) ORDER BY 1
"""  # noqa: E501

SQL_COHORTS = """
WITH act AS (SELECT DISTINCT customer_id, date_trunc('month', ordered_at) AS m
             FROM orders WHERE status = 'completed' AND amount >= 0),
first AS (SELECT customer_id, min(m) AS cohort FROM act GROUP BY 1),
sizes AS (SELECT cohort, count(*) AS cohort_size FROM first GROUP BY 1),
top AS (SELECT max(m) AS hi FROM act),
grid AS (SELECT cohort, cohort_size, unnest(range(0, datediff('month', cohort, hi) + 1)) AS period_index
         FROM sizes, top),
cells AS (SELECT f.cohort, datediff('month', f.cohort, a.m) AS period_index, count(*) AS active
          FROM act a JOIN first f USING (customer_id) GROUP BY ALL),
money AS (SELECT f.cohort, datediff('month', f.cohort, date_trunc('month', o.ordered_at)) AS period_index,
                 sum(CASE WHEN o.status = 'completed' THEN o.amount ELSE -abs(o.amount) END) AS revenue
          FROM orders o JOIN first f USING (customer_id) GROUP BY ALL)
SELECT g.cohort, g.period_index, g.cohort_size, coalesce(c.active, 0) AS active,
       100.0 * coalesce(c.active, 0) / g.cohort_size AS value, coalesce(m.revenue, 0) AS revenue,
       sum(coalesce(m.revenue, 0)) OVER (PARTITION BY g.cohort ORDER BY g.period_index) / g.cohort_size
         AS cumulative_revenue_per_customer
FROM grid g LEFT JOIN cells c USING (cohort, period_index) LEFT JOIN money m USING (cohort, period_index)
ORDER BY 1, 2
"""  # noqa: E501

SQL_LIFECYCLE = """
WITH act AS (SELECT customer_id, date_trunc('month', ordered_at) AS m, max(ordered_at) AS last_at
             FROM orders WHERE status = 'completed' AND amount >= 0 GROUP BY ALL),
w AS (SELECT *, lag(m) OVER (PARTITION BY customer_id ORDER BY m) AS prev,
             lead(m) OVER (PARTITION BY customer_id ORDER BY m) AS nxt FROM act),
top AS (SELECT max(m) AS hi FROM act),
gaps AS (SELECT m + INTERVAL 1 MONTH AS a1, coalesce(nxt, hi + INTERVAL 1 MONTH) AS b,
                date_trunc('month', last_at + INTERVAL 90 DAY) AS c FROM w, top),
deltas AS (SELECT a1 AS m, 1 AS d, 0 AS ch FROM gaps WHERE a1 < least(c, b)
           UNION ALL SELECT least(c, b), -1, 0 FROM gaps WHERE a1 < least(c, b)
           UNION ALL SELECT greatest(c, a1), 0, 1 FROM gaps WHERE greatest(c, a1) < b
           UNION ALL SELECT b, 0, -1 FROM gaps WHERE greatest(c, a1) < b),
moves AS (SELECT m, sum(d) AS d, sum(ch) AS ch FROM deltas GROUP BY 1),
active AS (SELECT m, count(*) FILTER (WHERE prev IS NULL) AS new,
                  count(*) FILTER (WHERE prev = m - INTERVAL 1 MONTH) AS returning,
                  count(*) FILTER (WHERE prev < m - INTERVAL 1 MONTH) AS resurrected FROM w GROUP BY 1),
spine AS (SELECT unnest(generate_series(min(m), max(m), INTERVAL 1 MONTH)) AS m FROM act)
SELECT s.m AS period_start, coalesce(a.new, 0) AS new, coalesce(a.returning, 0) AS returning,
       coalesce(a.resurrected, 0) AS resurrected,
       sum(coalesce(mv.d, 0)) OVER (ORDER BY s.m) AS dormant,
       sum(coalesce(mv.ch, 0)) OVER (ORDER BY s.m) AS churned
FROM spine s LEFT JOIN active a USING (m) LEFT JOIN moves mv USING (m) ORDER BY 1
"""  # noqa: E501


# --- (c) straightforward pandas -------------------------------------------------------------


def pandas_periods(orders: pd.DataFrame) -> pd.DataFrame:
    done = orders[(orders.status == "completed") & (orders.amount >= 0)].copy()
    done["m"] = done.ordered_at.dt.to_period("M")
    done = done.sort_values(["customer_id", "ordered_at", "order_id"])
    done["seq"] = done.groupby("customer_id").cumcount() + 1
    act = (
        done.groupby(["customer_id", "m"]).agg(n=("seq", "size"), top=("seq", "max")).reset_index()
    )
    act["prev"] = act.groupby("customer_id").m.shift()
    act["new"] = act.prev.isna()
    act["kept"] = act.prev == act.m - 1
    per = act.groupby("m").agg(
        e=("customer_id", "size"),
        n_new=("new", "sum"),
        kept=("kept", "sum"),
        orders=("n", "sum"),
        repeaters=("top", lambda s: int((s >= 2).sum())),
    )
    net = np.where(orders.status == "completed", orders.amount, -orders.amount.abs())
    money = pd.Series(net).groupby(orders.ordered_at.dt.to_period("M").to_numpy()).sum()
    months = pd.period_range(money.index.min(), money.index.max(), freq="M")
    per = per.reindex(months, fill_value=0)
    s = per.e.shift(fill_value=0)
    out = pd.DataFrame(
        {
            "customers_start": s,
            "customers_end": per.e,
            "new_customers": per.n_new,
            "lost_customers": s - per.kept,
        }
    )
    out["churn_rate"] = 100 * out.lost_customers / s.replace(0, np.nan)
    out["retention_rate"] = 100 * (per.e - per.n_new) / s.replace(0, np.nan)
    out["repeat_purchase_rate"] = 100 * per.repeaters / per.e.replace(0, np.nan)
    out["revenue"] = money.reindex(months, fill_value=0.0)
    out["average_order_value"] = out.revenue / per.orders.replace(0, np.nan)
    return out


def pandas_cohorts(orders: pd.DataFrame) -> pd.DataFrame:
    done = orders[(orders.status == "completed") & (orders.amount >= 0)]
    act = pd.DataFrame(
        {"customer_id": done.customer_id, "m": done.ordered_at.dt.to_period("M")}
    ).drop_duplicates()
    act["cohort"] = act.groupby("customer_id").m.transform("min")
    act["k"] = (act.m - act.cohort).apply(lambda d: d.n)
    cells = act.groupby(["cohort", "k"]).size().rename("active").reset_index()
    sizes = act.groupby("cohort").customer_id.nunique().rename("cohort_size")
    cells = cells.join(sizes, on="cohort")
    cells["value"] = 100 * cells.active / cells.cohort_size
    return cells


def pandas_lifecycle(orders: pd.DataFrame, horizon_days: int = 90) -> pd.DataFrame:
    done = orders[(orders.status == "completed") & (orders.amount >= 0)]
    m = done.ordered_at.dt.to_period("M")
    grid = pd.crosstab(done.customer_id, m).gt(0)  # customers x months
    last_at = done.assign(m=m).groupby(["customer_id", "m"]).ordered_at.max().unstack()
    months = pd.period_range(grid.columns.min(), grid.columns.max(), freq="M")
    grid = grid.reindex(columns=months, fill_value=False)
    last_at = last_at.reindex(index=grid.index, columns=months).ffill(axis=1)
    seen = grid.cumsum(axis=1) > 0
    prev = grid.shift(1, axis=1, fill_value=False)
    ever_before = seen.shift(1, axis=1, fill_value=False)
    ends = pd.DatetimeIndex([(p + 1).to_timestamp() for p in months])
    expired = (ends.to_numpy()[None, :] - last_at.to_numpy()) > np.timedelta64(horizon_days, "D")
    inactive = seen & ~grid
    out = pd.DataFrame(
        {
            "new": (grid & ~ever_before).sum(),
            "returning": (grid & prev).sum(),
            "resurrected": (grid & ever_before & ~prev).sum(),
            "dormant": (inactive & ~expired).sum(),
            "churned": (inactive & expired).sum(),
        }
    )
    return out


# --- runners ---------------------------------------------------------------------------------


def best_of(repeat: int, fn: Any) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run_variant(variant: str, folder: Path, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if variant == "retain":
        import ibis

        from retain import metrics

        con = ibis.duckdb.connect(str(folder / "bench.duckdb"), read_only=True)
        orders = con.table("orders")
        out["periods"] = best_of(repeat, lambda: metrics.period_metrics(orders).to_pandas())
        out["cohorts"] = best_of(repeat, lambda: metrics.cohort_retention(orders).to_pandas())
        out["lifecycle"] = best_of(repeat, lambda: metrics.lifecycle(orders).to_pandas())
        events = metrics.event_activity(con.table("events"))
        out["periods_events"] = best_of(
            repeat, lambda: metrics.period_metrics(None, activity=events).to_pandas()
        )
    elif variant == "sql":
        import duckdb

        con = duckdb.connect(str(folder / "bench.duckdb"), read_only=True)
        out["periods"] = best_of(repeat, lambda: con.execute(SQL_PERIODS).df())
        out["cohorts"] = best_of(repeat, lambda: con.execute(SQL_COHORTS).df())
        out["lifecycle"] = best_of(repeat, lambda: con.execute(SQL_LIFECYCLE).df())
    elif variant == "pandas":
        orders = pd.read_parquet(folder / "orders.parquet")
        out["periods"] = best_of(repeat, lambda: pandas_periods(orders))
        out["cohorts"] = best_of(repeat, lambda: pandas_cohorts(orders))
        out["lifecycle"] = best_of(repeat, lambda: pandas_lifecycle(orders))
    elif variant == "spark":
        import retain.warehouse as wh
        from retain import metrics

        con = wh.connect("pyspark://local")
        session = con._session
        frame = session.read.parquet(str(folder / "orders.parquet"))
        frame.createOrReplaceTempView("bench_orders")
        orders = con.table("bench_orders")
        out["periods"] = best_of(repeat, lambda: metrics.period_metrics(orders).to_pandas())
        out["cohorts"] = best_of(repeat, lambda: metrics.cohort_retention(orders).to_pandas())
        out["lifecycle"] = best_of(repeat, lambda: metrics.lifecycle(orders).to_pandas())
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would include the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_agreement(folder: Path) -> None:
    """(a), (b) and (c) must give the same numbers, or the timings compare different work."""
    import duckdb
    import ibis

    from retain import metrics

    con = ibis.duckdb.connect(str(folder / "bench.duckdb"), read_only=True)
    orders = con.table("orders")
    mine = metrics.period_metrics(orders).to_pandas()
    raw = duckdb.connect(str(folder / "bench.duckdb"), read_only=True)
    sql = raw.execute(SQL_PERIODS).df()
    frame = pd.read_parquet(folder / "orders.parquet")
    ref = pandas_periods(frame)
    for col in ("customers_start", "customers_end", "new_customers", "lost_customers"):
        assert (
            mine[col].tolist() == sql[col].astype(int).tolist() == ref[col].astype(int).tolist()
        ), col
    np.testing.assert_allclose(mine.revenue, sql.revenue, rtol=1e-9)
    life = (
        metrics.lifecycle(orders)
        .to_pandas()
        .pivot(index="period_start", columns="stage", values="customers")
    )
    ref_life = pandas_lifecycle(frame)
    for stage in ("new", "returning", "resurrected", "dormant", "churned"):
        assert life[stage].tolist() == ref_life[stage].astype(int).tolist(), stage
    cohorts = metrics.cohort_retention(orders).to_pandas()
    sql_cohorts = raw.execute(SQL_COHORTS).df()
    assert cohorts.active.tolist() == sql_cohorts.active.tolist()
    np.testing.assert_allclose(cohorts.revenue, sql_cohorts.revenue, rtol=1e-9, atol=1e-6)


def kaplan_meier_paths(size: int, rounds: int, seed: int) -> None:
    """Kaplan-Meier on ``size`` raw integer-day durations (issue 21), alternating per round:
    the numpy counting floor (two ``bincount``), retain's frame path and lifelines."""
    import warnings

    from lifelines import KaplanMeierFitter

    from retain.metrics import kaplan_meier

    rng = np.random.default_rng(seed)
    d = rng.integers(0, 730, size)
    o = (rng.random(size) < 0.6).astype(np.int64)
    frame = pd.DataFrame({"duration": d, "observed": o})

    def floor() -> None:
        n, e = np.bincount(d).astype(float), np.bincount(d, weights=o)
        at_risk = n.sum() - np.concatenate([[0.0], np.cumsum(n)[:-1]])
        np.cumprod(1 - e / np.where(at_risk > 0, at_risk, 1))

    def theirs() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            KaplanMeierFitter().fit(d, o)

    kaplan_meier(frame)  # imports scipy once, outside the timings
    print(f"\nKaplan-Meier on {size:,} durations, {rounds} rounds (floor, retain, lifelines)")
    times: dict[str, list[float]] = {"floor": [], "retain": [], "lifelines": []}
    for i in range(rounds):
        for name, fn in (("floor", floor), ("retain", lambda: kaplan_meier(frame))):
            times[name].append(best_of(1, fn))
        if i < 3:
            times["lifelines"].append(best_of(1, theirs))
        print(
            f"round {i + 1}: floor {times['floor'][-1]:.3f} s  retain {times['retain'][-1]:.3f} s"
            f"  retain/floor {times['retain'][-1] / times['floor'][-1]:.2f}x"
        )
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratios = [r / f for r, f in zip(times["retain"], times["floor"], strict=True)]
    print(
        f"median: floor {med['floor']:.3f} s, retain {med['retain']:.3f} s, lifelines "
        f"{med['lifelines']:.3f} s; retain/floor {np.median(ratios):.2f}x (target <= 2x), "
        f"lifelines/retain {med['lifelines'] / med['retain']:.1f}x; peak RSS {peak_rss_mb():.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders-per-customer", type=int, default=50)
    parser.add_argument("--events-per-customer", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--spark-customers",
        type=int,
        default=0,
        help="also time retain on local PySpark on this many customers (0 = skip)",
    )
    parser.add_argument(
        "--kaplan-meier",
        type=float,
        default=0,
        metavar="N",
        help="only time Kaplan-Meier on N raw durations: floor, retain, lifelines (issue 21)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kaplan_meier:
        print(f"load average {os.getloadavg()}")
        kaplan_meier_paths(int(args.kaplan_meier), args.rounds, args.seed)
        print(f"load average {os.getloadavg()}")
        return
    if args.variant:
        print(json.dumps(run_variant(args.variant, Path(args.folder), args.repeat)))
        return

    def child(variant: str, folder: Path) -> dict[str, Any]:
        cmd = [
            sys.executable,
            __file__,
            "--variant",
            variant,
            "--folder",
            str(folder),
            "--repeat",
            str(args.repeat),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    with tempfile.TemporaryDirectory(prefix="retain-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        sizes = generate(
            args.customers, args.orders_per_customer, args.events_per_customer, args.seed, folder
        )
        print(
            f"data: {sizes['customers']:,} customers, {sizes['orders']:,} orders, "
            f"{sizes['events']:,} events (generated in {time.perf_counter() - t0:.1f} s)"
        )
        check_agreement(folder)
        print(
            "results agree: retain == hand-written SQL == pandas "
            "(period metrics, lifecycle, cohorts)"
        )
        results = {}
        for variant in ("retain", "sql", "pandas"):
            results[variant] = child(variant, folder)
            print(f"{variant}: {json.dumps(results[variant])}", flush=True)
        spark: dict[str, Any] | None = None
        if args.spark_customers:
            with tempfile.TemporaryDirectory(prefix="retain-bench-spark-") as tmp2:
                small = Path(tmp2)
                generate(
                    args.spark_customers,
                    args.orders_per_customer,
                    args.events_per_customer,
                    args.seed,
                    small,
                )
                spark = child("spark", small)
    print(
        f"\n{'result':<16}{'retain (s)':>12}{'SQL floor (s)':>15}{'pandas (s)':>12}"
        f"{'retain/floor':>14}{'pandas/retain':>15}"
    )
    for key in ("periods", "cohorts", "lifecycle"):
        a, b, c = results["retain"][key], results["sql"][key], results["pandas"][key]
        print(f"{key:<16}{a:>12.3f}{b:>15.3f}{c:>12.3f}{a / b:>14.2f}{c / a:>15.1f}")
    total = {v: sum(results[v][k] for k in ("periods", "cohorts", "lifecycle")) for v in results}
    print(
        f"{'all three':<16}{total['retain']:>12.3f}{total['sql']:>15.3f}{total['pandas']:>12.3f}"
        f"{total['retain'] / total['sql']:>14.2f}{total['pandas'] / total['retain']:>15.1f}"
    )
    print(
        f"period metrics on {sizes['events']:,} events (activity = any event): "
        f"{results['retain']['periods_events']:.3f} s"
    )
    print("peak RSS (MB): " + ", ".join(f"{v} {results[v]['peak_rss_mb']:.0f}" for v in results))
    if spark:
        print(
            f"spark ({args.spark_customers:,} customers): periods {spark['periods']:.2f} s, "
            f"cohorts {spark['cohorts']:.2f} s, lifecycle {spark['lifecycle']:.2f} s, driver RSS "
            f"{spark['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
