"""Playbook benchmark (issue 19): evaluate every shipped playbook for N customers and queue it.

    nice .venv/bin/python benchmarks/engage.py                    # 1,000,000 customers
    nice .venv/bin/python benchmarks/engage.py --customers 200000 --profile
    nice .venv/bin/python benchmarks/engage.py --customers 200000 --decide-only

Target: under 60 s on 2 cores for 1M customers, from the warehouse to the outbox (guardrails
read, triggers, audiences, caps, holdouts, decisions, then holdout records and outbox rows
written). Delivery throughput is measured by ``benchmarks/engage_delivery.py``.

The synthetic business is generated *inside DuckDB* from ``range()`` with hash-based draws
(customers, 4 orders and order lines each, events, subscriptions, two churn scores each,
engaged interactions), so memory stays bounded at any size: nothing is built in Python. Every
shipped trigger fires for a share of customers: new customers (onboarding), 60-365 day
silences (win-back), risk crossing into ``high``, monthly products due (replenishment),
contracts ending within 30 days, and ``payment_failed`` yesterday. Prints each phase's time and
the load average (the machine is shared; say so beside the numbers).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import retain.warehouse as wh
from retain.app import make_engine, make_sessionmaker, upgrade
from retain.config import Settings
from retain.engage.decisions import decide, summary
from retain.engage.execute import execute, guardrails
from retain.engage.playbooks import shipped_playbooks
from retain.features import Sources

AS_OF = dt.datetime(2025, 6, 30, 12, 0)
"""The run's moment (naive UTC): 12:00 UTC is night in Tokyo and Seoul, day in London."""


def _u(expr: str, salt: int) -> str:
    """SQL for a uniform draw in [0, 1) from ``expr`` and ``salt`` (DuckDB's ``hash``)."""
    return f"(hash({expr}, {salt}) % 1000000) / 1000000.0"


def generate(con: object, n: int) -> None:
    """The synthetic business of ``n`` customers, written by DuckDB from ``range()``."""
    raw = con.con  # type: ignore[attr-defined]
    base = "TIMESTAMP '2025-06-30 00:00:00'"
    raw.execute(
        f"""
        INSERT INTO customers
        SELECT 'c' || i AS customer_id,
               CASE WHEN {_u("i", 1)} < 0.01
                    THEN {base} - to_days(CAST(floor({_u("i", 2)} * 12) AS INTEGER))
                    ELSE {base} - to_days(30 + CAST(floor({_u("i", 2)} * 900) AS INTEGER))
               END AS acquired_at,
               ['GB', 'JP', 'KR', 'US'][1 + i % 4] AS country,
               ['en', 'ja', 'ko', 'en'][1 + i % 4] AS language,
               ['Europe/London', 'Asia/Tokyo', 'Asia/Seoul', 'America/New_York'][1 + i % 4],
               ['search', 'social', 'referral'][1 + i % 3] AS acquisition_channel,
               'c' || i || '@example.com' AS email,
               CASE WHEN i % 3 = 0 THEN '+1-555-' || i ELSE NULL END AS phone,
               i % 10 <> 0 AS email_opt_in,
               i % 3 = 0 AS sms_opt_in,
               '{{"first_name": "N' || i || '", "plan": "' || ['basic', 'gold'][1 + i % 2]
                   || '"}}' AS attributes
        FROM range({n}) t(i)
        """
    )
    # four orders each; the last one's age spreads customers over active and silent
    raw.execute(
        f"""
        INSERT INTO orders
        SELECT 'o' || j AS order_id, 'c' || (j // 4) AS customer_id,
               {base} - to_days(CAST(floor({_u("j // 4", 3)} * 200) AS INTEGER)
                                + 30 * (3 - j % 4)) AS ordered_at,
               CAST(10 + (j % 7) * 5 AS DECIMAL(18, 4)) AS amount, 'USD' AS currency,
               'completed' AS status, 'web' AS channel, CAST(0 AS DECIMAL(18, 4))
        FROM range({4 * n}) t(j)
        """
    )
    raw.execute(
        f"""
        INSERT INTO order_lines
        SELECT 'o' || j, 1, 'p' || ((j // 4) % 20), 1, CAST(10 AS DECIMAL(18, 4)),
               'Product ' || ((j // 4) % 20), 'tea'
        FROM range({4 * n}) t(j)
        """
    )
    raw.execute(
        f"""
        INSERT INTO events
        SELECT 'e' || j, 'c' || (j % {n}),
               {base} - to_hours(CAST(floor({_u("j", 4)} * 24 * 120) AS INTEGER)),
               CASE WHEN {_u("j", 5)} < 0.02 THEN 'payment_failed' ELSE 'login' END,
               ['web', 'email', 'sms'][1 + j % 3], NULL
        FROM range({2 * n}) t(j)
        """
    )
    raw.execute(
        f"""
        INSERT INTO subscriptions
        SELECT 's' || i, 'c' || i, 'monthly', {base} - to_days(300), NULL, 'month',
               CAST(20 AS DECIMAL(18, 4)), 'USD', NULL, NULL,
               {base} + to_days(1 + CAST(floor({_u("i", 6)} * 180) AS INTEGER))
        FROM range({n}) t(i) WHERE i % 5 = 0
        """
    )
    wh.create_tables(con, ["churn_scores"])  # type: ignore[arg-type]
    raw.execute(
        f"""
        INSERT INTO churn_scores (customer_id, as_of, definition, probability, risk_band,
                                  reasons, model_version, scored_at)
        SELECT 'c' || (j // 2), {base} - to_days(CASE WHEN j % 2 = 0 THEN 40 ELSE 10 END),
               'shop', {_u("j", 7)},
               CASE WHEN {_u("j", 7)} < 0.2 THEN 'high'
                    WHEN {_u("j", 7)} < 0.5 THEN 'medium' ELSE 'low' END,
               '[]', '1', {base}
        FROM range({2 * n}) t(j)
        """
    )
    raw.execute(
        f"""
        INSERT INTO interactions
        SELECT 'i' || j, 'c' || (j % {n}),
               {base} - to_days(CAST(floor({_u("j", 8)} * 80) AS INTEGER)),
               'message_opened', ['email', 'sms'][1 + (j // 7) % 2], 'CMP-1', NULL
        FROM range({n}) t(j)
        """
    )
    raw.execute("CHECKPOINT")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--decide-only", action="store_true", help="skip writing the outbox")
    parser.add_argument("--profile", action="store_true", help="cProfile the decide step")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (2 cores)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        con = wh.connect(f"duckdb:///{path / 'w.duckdb'}")
        con.raw_sql(f"SET threads = {args.threads}")
        wh.create_tables(con)
        start = time.perf_counter()
        generate(con, args.customers)
        print(f"generate {args.customers:,} customers: {time.perf_counter() - start:.1f} s")
        url = f"sqlite:///{path / 'app.db'}"
        upgrade(url)
        sessions = make_sessionmaker(make_engine(url))
        settings = Settings(database_url=url, warehouse_url=f"duckdb:///{path / 'w.duckdb'}")
        playbooks = shipped_playbooks()
        sources = Sources.from_warehouse(con)
        print(_load())
        timings: dict[str, float] = {}
        with sessions() as session:
            t0 = time.perf_counter()
            rails = guardrails(session, sources, playbooks, now=AS_OF)
            timings["guardrails"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            cpu0 = time.process_time()
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            decisions = decide(playbooks, sources, AS_OF, now=AS_OF, guardrails=rails)
            if profiler:
                profiler.disable()
            timings["decide"] = time.perf_counter() - t0
            timings["decide_cpu"] = time.process_time() - cpu0
            if not args.decide_only:
                t0 = time.perf_counter()
                if profiler:
                    profiler.enable()
                report = execute(
                    session, decisions, playbooks, settings=settings, now=AS_OF, con=con
                )
                session.commit()
                if profiler:
                    profiler.disable()
                timings["execute"] = time.perf_counter() - t0
                print(
                    f"queued {report.queued:,}, holdouts {report.holdouts:,}, "
                    f"tasks {report.tasks:,}, unsupported {report.unsupported:,}"
                )
        print(summary(decisions).to_string(index=False))
        total = sum(v for k, v in timings.items() if k != "decide_cpu")
        print(json.dumps({k: round(v, 2) for k, v in timings.items()} | {"total": round(total, 2)}))
        print(_load())
        if profiler:
            pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(
                int(os.environ.get("TOP", "30"))
            )
        con.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
