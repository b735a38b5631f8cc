"""The same metrics on DuckDB, PostgreSQL, local PySpark and Spark Connect give identical results.

One data set with the edges that differ between engines (a Tokyo month boundary, a DST change
in New York, a JSON attribute, a refund, a trial, an annual plan) runs through every metric on
each engine; the frames must equal the DuckDB frames exactly (floats to 1e-12).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from metric_tables import load, orders_frame

import retain.warehouse as wh
from retain.metrics import (
    cohort_retention,
    event_activity,
    lifecycle,
    mrr_movements,
    period_metrics,
    subscription_activity,
    subscription_durations,
)
from retain.models.clv import rfm_summary
from retain.targeting.segments import rfm_scores

ORDERS = [
    ("a", "2024-01-05", 10.0),
    ("a", "2024-01-31 16:00", 20.0),  # February in Tokyo
    ("b", "2024-01-10", 5.0),
    ("b", "2024-03-10 06:59", 5.0),  # New York DST day
    ("c", "2024-02-01", 7.0),
    ("a", "2024-04-01", 3.0, "returned"),
    ("d", "2024-05-20", 8.0),
]


def tables(con: Any) -> dict[str, Any]:
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "country": ["JP", "KR", "JP", None],
            "attributes": [
                json.dumps({"segment": "vip"}),
                json.dumps({"segment": "std"}),
                None,
                "{}",
            ],
        }
    )
    subs = pd.DataFrame(
        {
            "subscription_id": list("12345"),
            "customer_id": list("aabcd"),
            "plan": ["basic", "addon", "annual", "basic", "pro"],
            "started_at": pd.to_datetime(
                ["2024-01-10", "2024-02-15", "2024-01-01", "2024-02-01", "2024-01-20"]
            ),
            "ended_at": pd.to_datetime(["2024-03-10", None, "2024-02-20", None, "2024-02-10"]),
            "billing_period": ["month", "month", "year", "month", "month"],
            "amount": [10.0, 5.0, 120.0, 20.0, 30.0],
            "trial_ends_at": pd.to_datetime([None, None, None, "2024-03-01", None]),
        }
    )
    events = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3"],
            "customer_id": ["a", "b", "a"],
            "occurred_at": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-02-02"]),
            "name": ["login", "page_view", "login"],
        }
    )
    return {
        "orders": load(con, "orders", orders_frame(ORDERS)),
        "customers": load(con, "customers", customers),
        "subscriptions": load(con, "subscriptions", subs),
        "events": load(con, "events", events),
    }


METRICS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "periods_tokyo": lambda t: period_metrics(t["orders"], tz="Asia/Tokyo"),
    "periods_by": lambda t: period_metrics(
        t["orders"], customers=t["customers"], by=["country", "segment"], tz="Asia/Tokyo"
    ),
    "periods_days_new_york": lambda t: period_metrics(
        t["orders"], period="day", tz="America/New_York", start="2024-03-08", end="2024-03-12"
    ),
    "periods_custom": lambda t: period_metrics(
        t["orders"], period=["2024-01-01", "2024-01-15", "2024-03-01"]
    ),
    "periods_events": lambda t: period_metrics(None, activity=event_activity(t["events"], "login")),
    "periods_subscriptions": lambda t: period_metrics(
        None, activity=subscription_activity(t["subscriptions"])
    ),
    "cohorts_unbounded": lambda t: cohort_retention(t["orders"], mode="unbounded"),
    "cohorts_revenue_weekly": lambda t: cohort_retention(
        t["orders"], kind="revenue", period="week"
    ),
    "lifecycle": lambda t: lifecycle(t["orders"], horizon_days=40),
    "mrr": lambda t: mrr_movements(t["subscriptions"]),
    "durations": lambda t: subscription_durations(
        t["subscriptions"], by="plan", as_of="2024-06-01"
    ),
    # The purchase models' inputs and the RFM segments: per customer, so sorted here.
    "rfm_summary_holdout": lambda t: rfm_summary(
        t["orders"], calibration_end="2024-02-15", holdout_end="2024-05-31", time_unit="day"
    ).order_by("customer_id"),
    "segments_rfm": lambda t: rfm_scores(t["orders"], "2024-06-01", bins=3).order_by("customer_id"),
}


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    con = wh.connect("duckdb://")
    t = tables(con)
    return {name: build(t).to_pandas() for name, build in METRICS.items()}


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.reset_index(drop=True)
    for col in got.columns:
        if str(got[col].dtype).startswith("datetime64"):
            got[col] = got[col].astype("datetime64[ns]")
            want[col] = want[col].astype("datetime64[ns]")
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_dtype=False, rtol=1e-12)


# Spark takes 10-40 s per query on a loaded 2-core machine, so it runs the subset that exercises
# every engine-sensitive construct (time-zone tree, JSON attributes, range joins, running
# windows, lag/lead, outer joins, week cohorts, ranks) and every analytic path once; DuckDB and
# PostgreSQL run everything.
SPARK_SUBSET = (
    "periods_by",
    "cohorts_revenue_weekly",
    "lifecycle",
    "mrr",
    "durations",
    "rfm_summary_holdout",
    "segments_rfm",
)


def test_every_metric_is_identical_on_each_engine(
    engine: Any, reference: dict[str, pd.DataFrame]
) -> None:
    t = tables(engine)
    names = SPARK_SUBSET if wh.backend_name(engine) == "pyspark" else tuple(METRICS)
    for name in names:
        same(METRICS[name](t).to_pandas(), reference[name].copy())
