# ruff: noqa: E501  (the hand-written SQL floor keeps one clause per line)
"""Churn benchmark (issue 7): feature snapshot in DuckDB vs a hand-written SQL floor, training
time, batch scoring throughput with reasons, peak RSS.

    .venv/bin/python benchmarks/churn.py                      # 100,000 customers (default)
    .venv/bin/python benchmarks/churn.py --customers 1000000  # the issue's full size

A synthetic business (orders ~8, events ~20, interactions ~4 per customer, a third subscribed) is
written to a DuckDB file; the snapshot is timed to Arrow, against one hand-written DuckDB query
that does the same scans and filtered aggregates (the floor). Targets: snapshot within 1.5x of
the floor, training under 2 minutes, scoring at least 200k customers/s with reasons.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

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
    reason_codes,
    reasons_json,
    score_frame,
)
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
        np.where(kinds == "survey_answer", '{"score": 7}', None),
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
    subs = pa.table(
        {
            "subscription_id": np.char.add("S", np.arange(k).astype(str)).astype(object),
            "customer_id": ids[rng.choice(n, k, replace=False)],
            "plan": rng.choice(["basic", "pro"], k),
            "started_at": started,
            "ended_at": ended,
            "amount": pa.array(np.full(k, 20.0)).cast(pa.decimal128(18, 4)),
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
  SELECT customer_id, count(*) n, count(*) FILTER (WHERE ordered_at >= $d30) n30,
         count(*) FILTER (WHERE ordered_at >= $d90) n90,
         count(*) FILTER (WHERE ordered_at >= $d180 AND ordered_at < $d90) p90,
         min(ordered_at) f, max(ordered_at) l, sum(amount::DOUBLE) rev,
         sum(amount::DOUBLE) FILTER (WHERE ordered_at >= $d90) rev90,
         sum(amount::DOUBLE) FILTER (WHERE ordered_at >= $d180 AND ordered_at < $d90) revp,
         sum(coalesce(discount_amount, 0)::DOUBLE) disc,
         count(*) FILTER (WHERE discount_amount > 0) ndisc
  FROM orders WHERE ordered_at < $asof AND status = 'completed' GROUP BY 1),
r AS (SELECT customer_id, count(*) n_returns FROM orders
      WHERE ordered_at < $asof AND status = 'returned' GROUP BY 1),
e AS (
  SELECT customer_id,
    count(*) FILTER (WHERE eng AND occurred_at >= $d30) e30,
    count(*) FILTER (WHERE eng AND occurred_at >= $d90) e90,
    count(*) FILTER (WHERE eng AND occurred_at >= $d180 AND occurred_at < $d90) ep90,
    max(occurred_at) FILTER (WHERE eng) le,
    count(*) FILTER (WHERE eng AND channel = 'web' AND occurred_at >= $d90) w90,
    count(*) FILTER (WHERE eng AND channel = 'web' AND occurred_at >= $d180 AND occurred_at < $d90) wp,
    count(*) FILTER (WHERE eng AND channel = 'app' AND occurred_at >= $d90) a90,
    count(*) FILTER (WHERE eng AND channel = 'app' AND occurred_at >= $d180 AND occurred_at < $d90) ap,
    count(*) FILTER (WHERE name = 'payment_failed' AND occurred_at >= $d90) pf90,
    count(*) FILTER (WHERE name = 'payment_failed') pf,
    max(occurred_at) FILTER (WHERE name = 'payment_failed') lpf,
    count(*) FILTER (WHERE name = 'cancel_page_view' AND occurred_at >= $d30) c30,
    count(*) FILTER (WHERE name = 'cancel_page_view' AND occurred_at >= $d90) c90,
    min(occurred_at) fe
  FROM (SELECT *, name NOT IN ('payment_failed', 'cancel_page_view') eng FROM events
        WHERE occurred_at < $asof) GROUP BY 1),
i AS (
  SELECT customer_id, max(occurred_at) FILTER (WHERE kind = 'message_sent') lm,
    count(*) FILTER (WHERE kind = 'message_sent' AND occurred_at >= $d90) m90,
    count(*) FILTER (WHERE kind = 'message_opened' AND occurred_at >= $d90) mo90,
    count(*) FILTER (WHERE kind = 'complaint') ct, count(*) FILTER (WHERE kind = 'complaint' AND occurred_at >= $d90) c90,
    arg_max(TRY_CAST(regexp_extract(properties, '"score"\\s*:\\s*"?(-?[0-9.]+)', 1) AS DOUBLE), occurred_at)
      FILTER (WHERE kind = 'survey_answer') score
  FROM interactions WHERE occurred_at < $asof GROUP BY 1),
t AS (
  SELECT o.customer_id, count(*) FILTER (WHERE r.res IS NULL) open_t,
         max(epoch($asof) - epoch(o.opened)) FILTER (WHERE r.res IS NULL) / 86400 oldest,
         avg(epoch(r.res) - epoch(o.opened)) / 86400 ttr
  FROM (SELECT customer_id, coalesce(regexp_extract(properties, '"ticket_id"\\s*:\\s*"?([^",}\\s]+)', 1), interaction_id) tid,
               min(occurred_at) opened FROM interactions
        WHERE occurred_at < $asof AND kind IN ('complaint', 'ticket_opened') GROUP BY 1, 2) o
  LEFT JOIN (SELECT customer_id, regexp_extract(properties, '"ticket_id"\\s*:\\s*"?([^",}\\s]+)', 1) tid,
                    min(occurred_at) res FROM interactions
             WHERE occurred_at < $asof AND kind = 'ticket_resolved' GROUP BY 1, 2) r
    ON o.customer_id = r.customer_id AND o.tid = r.tid GROUP BY 1),
s AS (
  SELECT customer_id, count(*) FILTER (WHERE ended_at IS NULL OR ended_at >= $asof) act,
         arg_max(plan, started_at) FILTER (WHERE ended_at IS NULL OR ended_at >= $asof) plan
  FROM subscriptions WHERE started_at < $asof GROUP BY 1),
pop AS (SELECT DISTINCT customer_id FROM orders WHERE ordered_at < $asof AND status = 'completed')
SELECT pop.customer_id, o.*, r.n_returns, e.*, i.*, t.*, s.*, c.country, c.language,
       c.acquisition_channel, c.email_opt_in, c.sms_opt_in
FROM pop LEFT JOIN o USING (customer_id) LEFT JOIN r USING (customer_id)
LEFT JOIN e USING (customer_id) LEFT JOIN i USING (customer_id) LEFT JOIN t USING (customer_id)
LEFT JOIN s USING (customer_id) LEFT JOIN customers c USING (customer_id)
"""


def _floor(con: object) -> float:
    raw = con.con  # type: ignore[attr-defined]
    params = {
        "asof": AS_OF,
        "d30": AS_OF - pd.Timedelta(days=30),
        "d90": AS_OF - pd.Timedelta(days=90),
        "d180": AS_OF - pd.Timedelta(days=180),
    }
    start = time.perf_counter()
    raw.execute(FLOOR_SQL, params).fetch_arrow_table()
    return time.perf_counter() - start


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
        snap_times, floor_times = [], []
        table = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            table = feature_snapshot(con, as_of=AS_OF, definition=definition).to_pyarrow()
            snap_times.append(time.perf_counter() - start)
            floor_times.append(_floor(con))
        assert table is not None
        snap, floor = min(snap_times), min(floor_times)
        print(
            f"feature snapshot (retain, Ibis on DuckDB): {snap:.2f}s for {table.num_rows:,} rows "
            f"x {table.num_columns - 1} features"
        )
        print(f"hand-written DuckDB SQL floor:             {floor:.2f}s")
        print(f"ratio snapshot / floor:                    {snap / floor:.2f}x (target <= 1.5x)")

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
        start = time.perf_counter()
        scored = score_frame(registered, frame)
        score_s = time.perf_counter() - start
        rate = len(scored) / score_s
        print(
            f"scoring with 3 reasons each: {len(scored):,} customers in {score_s:.2f}s = "
            f"{rate:,.0f} customers/s (target >= 200,000/s)"
        )
        # Where the scoring time goes, on the first rows: plain calibrated probabilities, the
        # exact TreeSHAP contributions, and the reasons worded per row (the previous
        # implementation) against vectorised over the chunk (what score_frame uses).
        part = frame[features].iloc[: args.breakdown_rows]
        m = len(part)
        start = time.perf_counter()
        model.predict_proba(part)
        proba_s = time.perf_counter() - start
        start = time.perf_counter()
        _, contrib = model.predict_with_contributions(part)
        shap_s = time.perf_counter() - start
        start = time.perf_counter()
        _, grouped = predict_with_contributions(model, part)
        grouped_s = time.perf_counter() - start
        assert np.allclose(grouped, contrib, rtol=0, atol=1e-9)
        start = time.perf_counter()
        per_row = [reasons_json(r) for r in reason_codes(contrib, part)]
        row_s = time.perf_counter() - start
        start = time.perf_counter()
        vectorised = reasons_json_column(contrib, part)
        vec_s = time.perf_counter() - start
        assert vectorised == per_row
        print(f"scoring breakdown on {m:,} customers:")
        print(f"  probabilities only (no reasons): {proba_s:.2f}s = {m / proba_s:,.0f}/s")
        print(f"  TreeSHAP contributions:          {shap_s:.2f}s = {m / shap_s:,.0f}/s")
        print(f"  TreeSHAP grouped by tree branches: {grouped_s:.2f}s = {m / grouped_s:,.0f}/s")
        print(f"  reasons per row (previous):      {row_s:.2f}s = {m / row_s:,.0f}/s")
        print(f"  reasons vectorised (now):        {vec_s:.2f}s = {m / vec_s:,.0f}/s (same JSON)")
        before = m / (shap_s + row_s)
        after = m / (grouped_s + vec_s)
        print(
            f"  contributions + reasons: previous (exact TreeSHAP, per-row reasons) "
            f"{before:,.0f}/s, now (grouped, vectorised) {after:,.0f}/s "
            f"({after / before:.1f}x)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:,.0f} MiB")
        con.disconnect()


if __name__ == "__main__":
    main()
