"""One completed-order rule: metrics, churn labels and features, and the CLV summary agree.

The data holds every kind of row the rule decides on: a refund line (a negative completed
amount), a zero-amount order, cancelled and returned orders, an order with no status, and a
customer whose only row is a refund. Each layer's count of a customer's orders must equal the
rule written out here in plain pandas, on DuckDB, PySpark and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.facts import completed_orders, is_completed
from retain.features import churn_labels, feature_snapshot, population
from retain.metrics import order_activity, period_metrics
from retain.metrics._periods import period_spec
from retain.models.clv import rfm_summary

ROWS = [
    # customer, day, amount, status
    ("a", "2024-01-05", 10.0, "completed"),
    ("a", "2024-01-20", -10.0, "completed"),  # a refund line: not a purchase
    ("a", "2024-02-03", 0.0, "completed"),  # free order: a purchase
    ("b", "2024-01-06", 8.0, "cancelled"),
    ("b", "2024-01-25", 8.0, "returned"),
    ("b", "2024-02-10", 5.0, None),  # no status: completed
    ("c", "2024-01-07", -5.0, "completed"),  # only a refund: never bought
    ("d", "2024-02-20", 0.0, None),
    ("e", "2024-01-08", 12.0, "completed"),
    ("e", "2024-03-05", -12.0, "completed"),  # refund in the label window: not activity
    ("f", "2024-01-09", 7.0, "completed"),
    ("f", "2024-03-06", 0.0, "completed"),  # zero-amount order in the window: activity
]
AS_OF = pd.Timestamp("2024-03-01")
DEFINITION = ChurnDefinition(name="shop", kind="non_contractual", horizon_days=30)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(ROWS))],
            "customer_id": [r[0] for r in ROWS],
            "ordered_at": pd.to_datetime([r[1] for r in ROWS]).astype("datetime64[us]"),
            "amount": [r[2] for r in ROWS],
            "status": [r[3] for r in ROWS],
        }
    )


def expected_orders(before: pd.Timestamp | None = None) -> pd.Series:
    """Completed orders per customer by the documented rule, in plain pandas."""
    f = frame()
    keep = f["status"].isna() | (f["status"] == "completed")
    keep &= f["amount"] >= 0
    if before is not None:
        keep &= f["ordered_at"] < before
    return f[keep].groupby("customer_id").size().sort_index()


def load(con: Any) -> Any:
    if wh.backend_name(con) == "pyspark":
        con.create_table("orders", frame(), overwrite=True)
    else:
        wh.write_table(con, "orders", frame())
    return con.table("orders")


def check_every_layer(con: Any, *, with_features: bool = True) -> None:
    orders = load(con)
    want = expected_orders()
    assert want.to_dict() == {"a": 2, "b": 1, "d": 1, "e": 1, "f": 2}

    # facts itself
    got = completed_orders(orders).to_pandas().groupby("customer_id").size().sort_index()
    assert got.to_dict() == want.to_dict()
    flags = orders.mutate(done=is_completed(orders)).to_pandas().set_index("order_id")["done"]
    assert int(flags.sum()) == int(want.sum())

    # metrics: daily activity (every order is on its own day) and the period buyers
    spec = period_spec("day", "UTC")
    days = order_activity(orders).periods(spec).to_pandas()
    assert days.groupby("customer_id").size().sort_index().to_dict() == want.to_dict()
    months = period_metrics(orders, period="month").to_pandas()
    buyers = frame().assign(month=lambda x: x["ordered_at"].dt.to_period("M"))
    ok = (buyers["status"].isna() | (buyers["status"] == "completed")) & (buyers["amount"] >= 0)
    per_month = buyers[ok].groupby("month")["customer_id"].nunique()
    got_end = months.set_index(pd.to_datetime(months["period_start"]).dt.to_period("M"))[
        "customers_end"
    ]
    assert {str(k): int(v) for k, v in got_end.items() if v} == {
        str(k): int(v) for k, v in per_month.items()
    }

    # lifetime value: purchase days = frequency + 1, for customers who ever bought
    summary = rfm_summary(orders, as_of="2024-03-31").to_pandas().set_index("customer_id")
    assert (summary["frequency"] + 1).astype(int).sort_index().to_dict() == want.to_dict()

    # churn: population, labels (a refund in the window is no activity), features
    tables = {"orders": orders}
    pop = set(population(tables, as_of=AS_OF, definition=DEFINITION).to_pandas()["customer_id"])
    assert pop == set(expected_orders(AS_OF).index) == {"a", "b", "d", "e", "f"}
    labels = churn_labels(tables, as_of=AS_OF, definition=DEFINITION).to_pandas()
    churned = dict(zip(labels["customer_id"], labels["churned"].astype(int), strict=True))
    assert churned == {"a": 1, "b": 1, "d": 1, "e": 1, "f": 0}
    if with_features:
        snap = feature_snapshot(tables, as_of=AS_OF, definition=DEFINITION).to_pandas()
        got_total = snap.set_index("customer_id")["orders_total"].astype(int).sort_index()
        assert got_total.to_dict() == expected_orders(AS_OF).to_dict()


def test_every_layer_counts_the_same_orders_on_duckdb() -> None:
    check_every_layer(wh.connect("duckdb://"))


@pytest.mark.spark
def test_every_layer_counts_the_same_orders_on_pyspark(spark_warehouse: Any) -> None:
    check_every_layer(spark_warehouse)


@pytest.mark.postgres
def test_every_layer_counts_the_same_orders_on_postgres(postgres_url: str) -> None:
    con = wh.connect(postgres_url)
    try:
        check_every_layer(con)
    finally:
        con.disconnect()
