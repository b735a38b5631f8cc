# ruff: noqa: E501  (the hand-written SQL floor keeps one clause per line)
"""Churn benchmark (issue 7): feature snapshot in DuckDB vs a hand-written SQL floor, training
time, batch scoring throughput with reasons, peak RSS.

    .venv/bin/python benchmarks/churn.py                      # 100,000 customers (default)
    .venv/bin/python benchmarks/churn.py --customers 1000000  # the issue's full size

A synthetic business (orders ~8, events ~20, interactions ~4 per customer, a third subscribed) is
written to a DuckDB file; the snapshot is timed to Arrow, against one hand-written DuckDB query
that does the same scans and filtered aggregates (the floor). The first snapshot of a process
builds and compiles the SQL, which later calls at any date reuse: it is timed apart, at another
date. Targets: snapshot within 1.5x of the floor, training under 2 minutes, scoring at least 200k
customers/s with reasons.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.features import feature_snapshot
from retain.models.churn import (
    ChurnClassifier,
    RegisteredModel,
    feature_columns,
    score_frame,
)
from retain.models.churn.champion import ChurnChampion
from retain.models.churn.reasons import reasons_json_column
from retain.models.churn.registry import feature_schema_hash
from retain.models.churn.scoring import predict_with_contributions

AS_OF = pd.Timestamp("2024-07-01")
START = pd.Timestamp("2023-01-01")


def _times(rng: np.random.Generator, n: int, days: float = 640.0) -> np.ndarray:
    return (
        (START + pd.to_timedelta(rng.uniform(0, days, n) * 86400, unit="s")).floor("s").to_numpy()
    )


def build(con: object, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i}" for i in range(n)], dtype=object)
    customers = pa.table(
        {
            "customer_id": ids,
            "acquired_at": _times(rng, n, 200),
            "country": rng.choice(["JP", "KR", "US", "DE"], n),
            "language": rng.choice(["ja", "ko", "en"], n),
            "acquisition_channel": rng.choice(["search", "referral", "store", "social"], n),
            "email_opt_in": rng.random(n) < 0.6,
            "sms_opt_in": rng.random(n) < 0.3,
        }
    )
    k = 8 * n
    orders = pa.table(
        {
            "order_id": np.char.add("O", np.arange(k).astype(str)).astype(object),
            "customer_id": ids[rng.integers(0, n, k)],
            "ordered_at": _times(rng, k),
            "amount": pa.array(np.round(rng.gamma(3, 12, k), 2)).cast(pa.decimal128(18, 4)),
            "status": rng.choice(["completed", "completed", "completed", "returned"], k),
            "discount_amount": pa.array(np.where(rng.random(k) < 0.2, 5.0, 0.0)).cast(
                pa.decimal128(18, 4)
            ),
        }
    )
    k = 20 * n
    events = pa.table(
        {
            "event_id": np.char.add("E", np.arange(k).astype(str)).astype(object),
            "customer_id": ids[rng.integers(0, n, k)],
            "occurred_at": _times(rng, k),
            "name": rng.choice(
                ["login", "app_session", "page_view", "payment_failed", "cancel_page_view"],
                k,
                p=[0.45, 0.3, 0.2, 0.03, 0.02],
            ),
            "channel": rng.choice(["web", "app"], k),
        }
    )
    k = 4 * n
    tickets = rng.integers(0, n, k)
    kinds = rng.choice(
        ["message_sent", "message_opened", "complaint", "ticket_resolved", "survey_answer"],
        k,
        p=[0.55, 0.2, 0.1, 0.08, 0.07],
    )
    props = np.where(
        np.isin(kinds, ["complaint", "ticket_resolved"]),
        np.char.add(np.char.add('{"ticket_id": "T', tickets.astype(str)), '"}'),
        np.where(kinds == "survey_answer", '{"score": 7}', np.array(None, dtype=object)),
    ).astype(object)
    interactions = pa.table(
        {
            "interaction_id": np.char.add("I", np.arange(k).astype(str)).astype(object),
            "customer_id": ids[tickets],
            "occurred_at": _times(rng, k),
            "kind": kinds,
            "properties": props,
        }
    )
    k = n // 3
    started = _times(rng, k, 500)
    ended = np.where(rng.random(k) < 0.4, started + np.timedelta64(200, "D"), np.datetime64("NaT"))
    period = rng.choice(["month", "month", "year"], k)
    # Annual plans carry the end of their current term: one to three years after the start,
    # so for a past as_of it is often a later renewal's end (the snapshot rolls it back).
    terms = rng.integers(1, 4, k) * np.timedelta64(365, "D")
    subs = pa.table(
        {
            "subscription_id": np.char.add("S", np.arange(k).astype(str)).astype(object),
            "customer_id": ids[rng.choice(n, k, replace=False)],
            "plan": rng.choice(["basic", "pro"], k),
            "billing_period": period,
            "started_at": started,
            "ended_at": ended,
            "amount": pa.array(np.full(k, 20.0)).cast(pa.decimal128(18, 4)),
            "trial_ends_at": np.where(
                rng.random(k) < 0.1, started + np.timedelta64(14, "D"), np.datetime64("NaT")
            ),
            "contract_ends_at": np.where(
                period == "year", started + terms, np.datetime64("NaT")
            ).astype("datetime64[ns]"),
        }
    )
    for name, table in [
        ("customers", customers),
        ("orders", orders),
        ("events", events),
        ("interactions", interactions),
        ("subscriptions", subs),
    ]:
        wh.write_table(con, name, table)


FLOOR_SQL = """
WITH o AS (
  SELECT customer_id,
    count(*) FILTER (WHERE done) n,
    count(*) FILTER (WHERE done AND ordered_at >= $d30) n30,
    count(*) FILTER (WHERE done AND ordered_at >= $d90) n90,
    count(*) FILTER (WHERE done AND ordered_at >= $d180 AND ordered_at < $d90) p90,
    (epoch($asof) - epoch(min(ordered_at) FILTER (WHERE done))) / 86400 f,
    (epoch($asof) - epoch(max(ordered_at) FILTER (WHERE done))) / 86400 l,
    sum(amt) FILTER (WHERE done) rev,
    coalesce(sum(amt) FILTER (WHERE done AND ordered_at >= $d90), 0) rev90,
    coalesce(sum(amt) FILTER (WHERE done AND ordered_at >= $d180 AND ordered_at < $d90), 0) revp,
    sum(disc) FILTER (WHERE done) disc,
    count(*) FILTER (WHERE done AND disc > 0) ndisc,
    count(*) FILTER (WHERE status = 'returned') n_returns
  FROM (SELECT customer_id, ordered_at, status, amount::DOUBLE amt,
               coalesce(discount_amount::DOUBLE, 0) disc, (status IS NULL OR status = 'completed') done
        FROM orders WHERE ordered_at < $asof) GROUP BY 1),
e AS (
  SELECT customer_id,
    count(*) FILTER (WHERE eng AND occurred_at >= $d30) e30,
    count(*) FILTER (WHERE eng AND occurred_at >= $d90) e90,
    count(*) FILTER (WHERE eng AND occurred_at >= $d180 AND occurred_at < $d90) ep90,
    count(*) FILTER (WHERE eng AND occurred_at >= $d90 AND occurred_at < $d30) e3090,
    (epoch($asof) - epoch(max(occurred_at) FILTER (WHERE eng))) / 86400 le,
    count(*) FILTER (WHERE eng AND channel = 'web' AND occurred_at >= $d90) w90,
    count(*) FILTER (WHERE eng AND channel = 'web' AND occurred_at >= $d180 AND occurred_at < $d90) wp,
    count(*) FILTER (WHERE eng AND channel = 'app' AND occurred_at >= $d90) a90,
    count(*) FILTER (WHERE eng AND channel = 'app' AND occurred_at >= $d180 AND occurred_at < $d90) ap,
    count(*) FILTER (WHERE name = 'payment_failed' AND occurred_at >= $d60) pf60,
    count(*) FILTER (WHERE name = 'payment_failed' AND occurred_at >= $d90) pf90,
    count(*) FILTER (WHERE name = 'payment_failed') pf,
    (epoch($asof) - epoch(max(occurred_at) FILTER (WHERE name = 'payment_failed'))) / 86400 lpf,
    count(*) FILTER (WHERE name = 'cancel_page_view' AND occurred_at >= $d30) c30,
    count(*) FILTER (WHERE name = 'cancel_page_view' AND occurred_at >= $d90) c90,
    (epoch($asof) - epoch(max(occurred_at) FILTER (WHERE name = 'cancel_page_view'))) / 86400 lc,
    (epoch($asof) - epoch(min(occurred_at))) / 86400 fe
  FROM (SELECT customer_id, occurred_at, name, channel,
               name NOT IN ('payment_failed', 'cancel_page_view') eng
        FROM events WHERE occurred_at < $asof) GROUP BY 1),
i AS (
  SELECT customer_id, max(occurred_at) FILTER (WHERE kind = 'message_sent') lm,
    count(*) FILTER (WHERE kind = 'message_sent' AND occurred_at >= $d90) m90,
    count(*) FILTER (WHERE kind = 'message_opened' AND occurred_at >= $d90) mo90,
    count(*) FILTER (WHERE kind = 'complaint') ct,
    count(*) FILTER (WHERE kind = 'complaint' AND occurred_at >= $d90) c90,
    count(score) ns, arg_max(score, latest) FILTER (WHERE score IS NOT NULL) last_score,
    avg(score) FILTER (WHERE occurred_at >= $d90) - avg(score) FILTER (WHERE occurred_at < $d90) dscore
  FROM (SELECT customer_id, occurred_at, kind, score,
               CASE WHEN score IS NOT NULL THEN occurred_at::VARCHAR || '#' || interaction_id END latest
        FROM (SELECT *, CASE WHEN kind = 'survey_answer' THEN CAST(nullif(regexp_extract(
                          properties, '"score"\\s*:\\s*"?(-?[0-9]+(?:\\.[0-9]+)?)', 1), '') AS DOUBLE) END score
              FROM interactions WHERE occurred_at < $asof)) GROUP BY 1),
t AS (
  SELECT o.customer_id, count(*) FILTER (WHERE r.res IS NULL) open_t,
         count(*) FILTER (WHERE r.res IS NULL AND o.nc > 0) open_c,
         (epoch($asof) - epoch(min(o.opened) FILTER (WHERE r.res IS NULL))) / 86400 oldest,
         count(*) FILTER (WHERE r.res IS NOT NULL) resolved,
         avg(epoch(r.res) - epoch(o.opened)) / 86400 ttr
  FROM (SELECT customer_id, coalesce(nullif(regexp_extract(properties, '"ticket_id"\\s*:\\s*"?([^",}\\s]+)', 1), ''),
                                     interaction_id) tid,
               min(occurred_at) opened, count(*) FILTER (WHERE kind = 'complaint') nc FROM interactions
        WHERE occurred_at < $asof AND kind IN ('complaint', 'ticket_opened') GROUP BY 1, 2) o
  LEFT JOIN (SELECT customer_id, nullif(regexp_extract(properties, '"ticket_id"\\s*:\\s*"?([^",}\\s]+)', 1), '') tid,
                    min(occurred_at) res FROM interactions
             WHERE occurred_at < $asof AND kind = 'ticket_resolved' GROUP BY 1, 2) r
    ON o.customer_id = r.customer_id AND o.tid = r.tid GROUP BY 1),
s AS (
  SELECT customer_id, count(*) FILTER (WHERE act) act, sum(amount::DOUBLE) FILTER (WHERE act) amt,
    (epoch($asof) - epoch(min(started_at) FILTER (WHERE act))) / 86400 oldest,
    (epoch($asof) - epoch(min(started_at))) / 86400 first_sub,
    min(epoch(ce - back) - epoch($asof)) FILTER (WHERE act AND ce >= $asof) / 86400 contract_left,
    arg_max(epoch(started_at + unit * (date_sub(bp, started_at, $asof) + 1)::INT) - epoch($asof), latest)
      FILTER (WHERE act) / 86400 renewal,
    count(*) FILTER (WHERE act AND trial_ends_at > $asof) trial, count(*) FILTER (WHERE NOT act) ended,
    arg_max(plan, latest) FILTER (WHERE act) plan, arg_max(billing_period, latest) FILTER (WHERE act) period
  FROM (SELECT *, unit * date_sub(bp, $asof, coalesce(ce, $asof))::INT back,
               CASE WHEN act THEN started_at::VARCHAR || '#' || subscription_id END latest
        FROM (SELECT *, coalesce(billing_period, 'month') bp, contract_ends_at ce,
                     CASE coalesce(billing_period, 'month') WHEN 'day' THEN INTERVAL 1 DAY
                       WHEN 'week' THEN INTERVAL 7 DAY WHEN 'month' THEN INTERVAL 1 MONTH
                       WHEN 'year' THEN INTERVAL 1 YEAR END unit,
                     ended_at IS NULL OR ended_at >= $asof act
              FROM subscriptions WHERE started_at < $asof)) GROUP BY 1),
pop AS (SELECT DISTINCT customer_id FROM orders
        WHERE ordered_at < $asof AND (status IS NULL OR status = 'completed'))
SELECT pop.customer_id,
  greatest(coalesce(o.f, 0), coalesce(e.fe, 0), coalesce(s.first_sub, 0),
           coalesce(CASE WHEN c.acquired_at < $asof THEN (epoch($asof) - epoch(c.acquired_at)) / 86400 END, 0)) tenure_days,
  coalesce(o.n, 0) orders_total, coalesce(o.n30, 0) orders_30d, coalesce(o.n90, 0) orders_90d,
  coalesce(o.p90, 0) orders_prev_90d, (o.n90 - o.p90) * 100 / nullif(o.p90, 0) orders_change_pct,
  o.f days_since_first_order, o.l days_since_last_order,
  (o.f - o.l) / nullif(o.n - 1, 0) mean_days_between_orders,
  o.l / nullif((o.f - o.l) / nullif(o.n - 1, 0), 0) order_overdue_ratio,
  coalesce(o.rev, 0) revenue_total, coalesce(o.rev90, 0) revenue_90d, coalesce(o.revp, 0) revenue_prev_90d,
  (coalesce(o.rev90, 0) - coalesce(o.revp, 0)) * 100 / nullif(coalesce(o.revp, 0), 0) revenue_change_pct,
  o.rev / nullif(o.n, 0) average_order_value,
  NULL::DOUBLE units_per_order, NULL::DOUBLE units_90d, NULL::DOUBLE largest_order_units,  -- no order_lines here
  o.disc / nullif(coalesce(o.rev, 0) + coalesce(o.disc, 0), 0) discount_share,
  o.ndisc / nullif(o.n, 0) discounted_order_share, coalesce(o.n_returns, 0) returns_total,
  coalesce(e.e30, 0) events_30d, coalesce(e.e90, 0) events_90d, coalesce(e.ep90, 0) events_prev_90d,
  (e.e90 - e.ep90) * 100 / nullif(e.ep90, 0) events_change_pct,
  (e.e30 * 2 - e.e3090) * 100 / nullif(e.e3090, 0) events_30d_change_pct, e.le days_since_last_event,
  coalesce(e.w90, 0) web_events_90d, (e.w90 - e.wp) * 100 / nullif(e.wp, 0) web_events_change_pct,
  coalesce(e.a90, 0) app_events_90d, (e.a90 - e.ap) * 100 / nullif(e.ap, 0) app_events_change_pct,
  coalesce(e.pf60, 0) payment_failures_60d, coalesce(e.pf90, 0) payment_failures_90d,
  coalesce(e.pf, 0) payment_failures_total, e.lpf days_since_payment_failure,
  coalesce(e.c30, 0) cancel_page_views_30d, coalesce(e.c90, 0) cancel_page_views_90d,
  e.lc days_since_cancel_page_view,
  CASE WHEN i.lm IS NULL THEN greatest(coalesce(o.f, 0), coalesce(e.fe, 0), coalesce(s.first_sub, 0),
           coalesce(CASE WHEN c.acquired_at < $asof THEN (epoch($asof) - epoch(c.acquired_at)) / 86400 END, 0))
       ELSE (epoch($asof) - epoch(i.lm)) / 86400 END days_since_contact,
  coalesce(i.m90, 0) messages_90d, coalesce(i.mo90, 0) messages_opened_90d,
  i.mo90 / nullif(i.m90, 0) message_open_rate, coalesce(i.ct, 0) complaints_total,
  coalesce(i.c90, 0) complaints_90d, coalesce(t.open_t, 0) tickets_open,
  coalesce(t.open_c, 0) complaints_unresolved, t.oldest oldest_open_ticket_days,
  coalesce(t.resolved, 0) tickets_resolved_total, t.ttr mean_days_to_resolve,
  coalesce(i.ns, 0) survey_responses, i.last_score survey_last_score, i.dscore survey_score_change,
  coalesce(s.act, 0) active_subscriptions, s.amt subscription_amount, s.oldest subscription_tenure_days,
  s.contract_left days_to_contract_end, s.renewal days_to_renewal, CAST(coalesce(s.trial, 0) > 0 AS INT) in_trial,
  coalesce(s.ended, 0) subscriptions_ended, c.email_opt_in::INT email_opt_in, c.sms_opt_in::INT sms_opt_in,
  s.plan, s.period billing_period, c.country, c.language, c.acquisition_channel
FROM pop LEFT JOIN o USING (customer_id) LEFT JOIN e USING (customer_id) LEFT JOIN i USING (customer_id)
LEFT JOIN t USING (customer_id) LEFT JOIN s USING (customer_id) LEFT JOIN customers c USING (customer_id)
ORDER BY pop.customer_id
"""


def _floor(con: object) -> tuple[float, pa.Table]:
    raw = con.con  # type: ignore[attr-defined]
    params = {
        "asof": AS_OF,
        "d30": AS_OF - pd.Timedelta(days=30),
        "d60": AS_OF - pd.Timedelta(days=60),
        "d90": AS_OF - pd.Timedelta(days=90),
        "d180": AS_OF - pd.Timedelta(days=180),
    }
    start = time.perf_counter()
    table = raw.execute(FLOOR_SQL, params).to_arrow_table()
    return time.perf_counter() - start, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--breakdown-rows",
        type=int,
        default=20_000,
        help="customers used for the per-stage scoring breakdown",
    )
    args = parser.parse_args()
    n = args.customers
    with tempfile.TemporaryDirectory() as tmp:
        con = wh.connect(f"duckdb:///{Path(tmp) / 'bench.duckdb'}")
        t0 = time.perf_counter()
        build(con, n)
        print(f"customers: {n:,}; data written in {time.perf_counter() - t0:.1f}s")
        definition = ChurnDefinition(activity="orders")
        # The first snapshot of a process builds the expression and compiles it to SQL; later
        # ones, at any date, reuse that SQL (retain.features._compiled). Timed apart: the cold
        # call at another date (a month earlier), then the runs at AS_OF, each against the floor.
        start, cpu = time.perf_counter(), time.process_time()
        warm_up = feature_snapshot(con, as_of=AS_OF - pd.Timedelta(days=30), definition=definition)
        cold_build = time.perf_counter() - start
        warm_up.to_pyarrow()
        cold, cold_cpu = time.perf_counter() - start, time.process_time() - cpu
        # Wall time (best of the runs) and CPU time of the process, DuckDB's threads included:
        # on a shared machine the CPU time is the steadier figure.
        snap_times, floor_times, compile_times, snap_cpu, floor_cpu = [], [], [], [], []
        table = floor_table = None
        for _ in range(args.repeat):
            start, cpu = time.perf_counter(), time.process_time()
            expr = feature_snapshot(con, as_of=AS_OF, definition=definition)
            table = expr.to_pyarrow()
            snap_times.append(time.perf_counter() - start)
            snap_cpu.append(time.process_time() - cpu)
            start = time.perf_counter()
            ibis.to_sql(feature_snapshot(con, as_of=AS_OF, definition=definition))
            compile_times.append(time.perf_counter() - start)
            cpu = time.process_time()
            seconds, floor_table = _floor(con)
            floor_times.append(seconds)
            floor_cpu.append(time.process_time() - cpu)
        assert table is not None and floor_table is not None
        # The floor computes the same columns: check every value before comparing times.
        ours, theirs = table.to_pandas(), floor_table.to_pandas()
        assert list(ours.columns) == list(theirs.columns)
        assert ours["customer_id"].equals(theirs["customer_id"])
        for col in ours.columns[1:]:
            a, b = ours[col], theirs[col]
            if a.dtype == object:
                assert ((a == b) | (a.isna() & b.isna())).all(), col
            else:
                assert np.allclose(a, b.astype(float), rtol=1e-9, atol=1e-6, equal_nan=True), col
        snap, floor = min(snap_times), min(floor_times)
        print(
            f"feature snapshot (retain, Ibis on DuckDB): {snap:.2f}s for {table.num_rows:,} rows "
            f"x {table.num_columns - 1} features (of which reading the schemas and putting "
            f"the date into the compiled SQL: {min(compile_times):.2f}s)"
        )
        print(
            f"  first call of the process (another date; building and compiling the expression "
            f"{cold_build:.2f}s): {cold:.2f}s, CPU {cold_cpu:.2f}s"
        )
        print(f"hand-written DuckDB SQL floor:             {floor:.2f}s (same values, checked)")
        print(f"ratio snapshot / floor:                    {snap / floor:.2f}x (target <= 1.5x)")
        print(
            f"  all runs: snapshot {[round(x, 2) for x in snap_times]}, "
            f"floor {[round(x, 2) for x in floor_times]}"
        )
        # Each run against the floor run right after it: under a load that changes between
        # rounds, the median of these pairs is steadier than best against best.
        paired = sorted(a / b for a, b in zip(snap_times, floor_times, strict=True))
        print(f"  each run / the floor run after it: median {paired[len(paired) // 2]:.2f}x")
        print(
            f"CPU time: snapshot {min(snap_cpu):.2f}s, floor {min(floor_cpu):.2f}s, "
            f"ratio {min(snap_cpu) / min(floor_cpu):.2f}x"
        )

        frame = table.to_pandas()
        rng = np.random.default_rng(1)
        # Label from a known logit, so the model has something to learn.
        logit = (
            -1.0
            + frame["days_since_last_order"].fillna(400) / 120
            - 0.2 * frame["orders_90d"]
            + 0.8 * (frame["tickets_open"] > 0)
        )
        frame["churned"] = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
        frame["as_of"] = AS_OF - pd.to_timedelta(rng.integers(0, 6, len(frame)) * 30, unit="D")
        features = feature_columns(frame)
        start = time.perf_counter()
        model = ChurnClassifier(random_state=0, n_jobs=1).fit(
            frame[features], frame["churned"], time=frame["as_of"]
        )
        train_s = time.perf_counter() - start
        print(
            f"training ({len(frame):,} rows x {len(features)} features, early stopping at "
            f"{model.best_iteration_} trees): {train_s:.1f}s (target < 120s)"
        )

        kinds = [
            "numeric" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical"
            for c in features
        ]
        card = {
            "features": [{"name": c, "kind": k} for c, k in zip(features, kinds, strict=True)],
            "feature_schema_hash": feature_schema_hash(features, kinds),
            "risk_bands": {"high": 0.8, "medium": 0.6},
        }
        registered = RegisteredModel("bench", model, card, Path(tmp))
        # The champion by backtest may be any candidate (#17): the logistic regression won on
        # CDNOW and Telco, the average on the demo. Each must meet the same targets.
        entries = {"trees": registered}
        for candidate in ("logistic", "average"):
            start = time.perf_counter()
            other = ChurnChampion(
                candidate=candidate,
                trees=ChurnClassifier(random_state=0, n_jobs=1),
                random_state=0,
            ).fit(frame[features], frame["churned"], time=frame["as_of"])
            print(f"candidate {candidate}: training {time.perf_counter() - start:.1f}s (< 120s)")
            entries[candidate] = RegisteredModel("bench-" + candidate, other, card, Path(tmp))
        for entry in entries.values():
            score_frame(entry, frame.iloc[:100])  # load (or compile) the numba kernels
        # Best of --repeat rounds, like the snapshot (this shared machine's neighbours move a
        # single run by +-20%); the candidates take turns within a round, so a burst of load
        # falls on all of them alike and their ratios stay comparable.
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in entries}
        n_scored = 0
        for _ in range(args.repeat):
            for name, entry in entries.items():
                start, cpu = time.perf_counter(), time.process_time()
                n_scored = len(score_frame(entry, frame))
                runs[name].append((time.perf_counter() - start, time.process_time() - cpu))
        trees_wall = min(wall for wall, _ in runs["trees"])
        for name, timed in runs.items():
            walls = sorted(wall for wall, _ in timed)
            cpu = min(c for _, c in timed)
            print(
                f"scoring with 3 reasons, {name}: {n_scored:,} customers in {walls[0]:.2f}s "
                f"wall = {n_scored / walls[0]:,.0f} customers/s (target >= 200,000/s; ratio "
                f"{n_scored / walls[0] / 200_000:.2f}); median "
                f"{n_scored / walls[len(walls) // 2]:,.0f}/s; CPU {cpu:.2f}s = "
                f"{n_scored / cpu:,.0f}/s; wall {walls[0] / trees_wall:.2f}x the trees'"
            )
            print(f"  all runs: {[round(w, 2) for w, _ in timed]} s")
        # Where the scoring time goes, on the first rows (CPU seconds): plain calibrated
        # probabilities; LightGBM's own TreeSHAP (pred_contrib); the compiled TreeSHAP that
        # score_frame uses (checked equal); the reasons worded from the contributions.
        part = frame[features].iloc[: args.breakdown_rows]
        m = len(part)

        def cpu_of(fn: Callable[[], object]) -> tuple[float, object]:
            begin = time.process_time()
            out = fn()
            return time.process_time() - begin, out

        proba_s, _ = cpu_of(lambda: model.predict_proba(part))
        lgb_s, exact = cpu_of(lambda: model.predict_with_contributions(part))
        ours_s, fast = cpu_of(lambda: predict_with_contributions(model, part))
        assert np.allclose(fast[1], exact[1], rtol=0, atol=1e-9)  # type: ignore[index]
        reasons_s, _ = cpu_of(lambda: reasons_json_column(fast[1], part))  # type: ignore[index]
        print(f"scoring breakdown on {m:,} customers (CPU):")
        print(f"  probabilities only (no reasons):   {proba_s:.2f}s = {m / proba_s:,.0f}/s")
        print(f"  TreeSHAP, LightGBM pred_contrib:   {lgb_s:.2f}s = {m / lgb_s:,.0f}/s")
        print(
            f"  TreeSHAP, compiled, per pattern:   {ours_s:.2f}s = {m / ours_s:,.0f}/s "
            f"({lgb_s / ours_s:.1f}x; equal to 1e-9)"
        )
        print(f"  reasons from the contributions:    {reasons_s:.2f}s = {m / reasons_s:,.0f}/s")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:,.0f} MiB")
        con.disconnect()


if __name__ == "__main__":
    main()
