"""Lifecycle stages: hand-computed with the churn horizon, and the stages add up to customers."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_tables import load, orders_frame

from retain.errors import InvalidParameterError
from retain.metrics import LIFECYCLE_STAGES, lifecycle

ROWS = [
    ("a", "2024-01-05", 1.0),
    ("a", "2024-01-20", 1.0),
    ("b", "2024-01-10", 1.0),
    ("b", "2024-03-02", 1.0),
    ("c", "2024-02-01", 1.0),
]


def wide(table: Any) -> pd.DataFrame:
    frame = table.to_pandas()
    return frame.pivot(index="period_start", columns="stage", values="customers")[
        list(LIFECYCLE_STAGES)
    ]


def test_stages_by_hand_with_a_40_day_horizon(duck: Any) -> None:
    got = wide(lifecycle(load(duck, "orders", orders_frame(ROWS)), horizon_days=40))
    # Jan: a, b new. Feb: c new; a (last Jan 20, +40 d = Feb 29) and b (Jan 10 + 40 = Feb 19)
    # are past the horizon by the end of February -> churned.
    # Mar: b resurrected; a still churned; c (Feb 1 + 40 = Mar 12) churned by the end of March.
    assert got.to_dict("list") == {
        "new": [2, 1, 0],
        "returning": [0, 0, 0],
        "resurrected": [0, 0, 1],
        "dormant": [0, 0, 0],
        "churned": [0, 2, 2],
    }


def test_dormant_before_the_horizon_then_churned(duck: Any) -> None:
    got = wide(lifecycle(load(duck, "orders", orders_frame(ROWS)), horizon_days=90))
    assert got.dormant.tolist() == [0, 2, 2]  # a, b in Feb; a, c in Mar
    assert got.churned.tolist() == [0, 0, 0]
    weekly = lifecycle(
        load(duck, "orders2", orders_frame([("a", "2024-01-01", 1.0), ("a", "2024-01-08", 1.0)])),
        period="week",
    ).to_pandas()
    assert weekly[weekly.stage == "returning"].customers.tolist() == [0, 1]


def test_every_long_row_and_bad_horizon(duck: Any) -> None:
    orders = load(duck, "orders", orders_frame(ROWS))
    got = lifecycle(orders).to_pandas()
    assert list(got.columns) == ["period_start", "stage", "customers"]
    assert got.stage.tolist()[:5] == list(LIFECYCLE_STAGES)
    with pytest.raises(InvalidParameterError, match="horizon_days"):
        lifecycle(orders, horizon_days=0)


@settings(max_examples=15, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(list("abcdef")), st.integers(0, 200)), min_size=1, max_size=25
    ),
    horizon=st.integers(1, 120),
)
def test_stages_add_up_to_customers_acquired(rows: list[tuple[str, int]], horizon: int) -> None:
    frame = orders_frame(
        [(c, str(pd.Timestamp("2023-01-01") + pd.Timedelta(days=d)), 1.0) for c, d in rows]
    )
    got = wide(lifecycle(ibis.memtable(frame), horizon_days=horizon))
    month = frame.ordered_at.dt.to_period("M")
    first = frame.assign(m=month).groupby("customer_id").m.min()
    acquired = [int((first <= pd.Period(p, "M")).sum()) for p in got.index]
    assert got.sum(axis=1).tolist() == acquired
    assert (got >= 0).all().all()
