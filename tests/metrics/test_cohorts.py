"""Cohort matrices: hand-computed logo and revenue cohorts, classic and unbounded, properties."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metric_tables import load, orders_frame

from retain.errors import InvalidParameterError
from retain.metrics import COHORT_COLUMNS, cohort_retention, cohort_sizes

ROWS = [
    ("a", "2024-01-05", 10.0),
    ("a", "2024-03-20", 20.0),
    ("b", "2024-01-10", 5.0),
    ("b", "2024-02-02", 5.0),
    ("c", "2024-02-01", 7.0),
    ("c", "2024-02-15", 1.0, "returned"),
    ("d", "2024-02-09", 2.0),
    ("d", "2024-04-30", 4.0),
]


def test_logo_cohorts_classic_by_hand(duck: Any) -> None:
    got = cohort_retention(load(duck, "orders", orders_frame(ROWS))).to_pandas()
    assert tuple(got.columns) == COHORT_COLUMNS
    jan = got[got.cohort == "2024-01-01"]
    assert jan.period_index.tolist() == [0, 1, 2, 3]
    assert jan.cohort_size.unique().tolist() == [2]
    assert jan.active.tolist() == [2, 1, 1, 0]  # b in Feb, a in Mar
    assert jan.value.tolist() == [100.0, 50.0, 50.0, 0.0]
    feb = got[got.cohort == "2024-02-01"]
    assert feb.active.tolist() == [2, 0, 1]  # c and d; d again in April
    assert feb.revenue.tolist() == [8.0, 0.0, 4.0]  # 7 + 2 - 1 refunded
    assert feb.cumulative_revenue_per_customer.tolist() == [4.0, 4.0, 6.0]


def test_unbounded_counts_k_or_later_and_revenue_value(duck: Any) -> None:
    orders = load(duck, "orders", orders_frame(ROWS))
    got = cohort_retention(orders, mode="unbounded").to_pandas()
    jan = got[got.cohort == "2024-01-01"]
    assert jan.active.tolist() == [2, 2, 1, 0]  # a counts in month 1 too: back in month 2
    feb = got[got.cohort == "2024-02-01"]
    assert feb.active.tolist() == [2, 1, 1]
    rev = cohort_retention(orders, kind="revenue").to_pandas()
    assert rev.value.tolist() == rev.revenue.tolist()
    assert rev[rev.cohort == "2024-01-01"].value.tolist() == [15.0, 5.0, 20.0, 0.0]
    sizes = cohort_sizes(orders).to_pandas()
    assert sizes.cohort_size.tolist() == [2, 2]


def test_quarters_and_bad_parameters(duck: Any) -> None:
    orders = load(duck, "orders", orders_frame(ROWS))
    got = cohort_retention(orders, period="quarter").to_pandas()
    assert got.cohort_size.tolist() == [4, 4]
    assert got.active.tolist() == [4, 1]
    with pytest.raises(InvalidParameterError, match="kind must be one of 'logo', 'revenue'"):
        cohort_retention(orders, kind="money")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="mode must be one of"):
        cohort_retention(orders, mode="rolling")  # type: ignore[arg-type]


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(list("abcdefghij")),
        st.integers(0, 300),
        st.floats(0, 100, allow_nan=False),
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows_strategy)
def test_cohort_properties(rows: list[tuple[str, int, float]]) -> None:
    frame = orders_frame(
        [(c, str(pd.Timestamp("2023-01-01") + pd.Timedelta(days=d)), a) for c, d, a in rows]
    )
    table = ibis.memtable(frame)
    classic = cohort_retention(table).to_pandas()
    unbounded = cohort_retention(table, mode="unbounded").to_pandas()
    assert classic.value.between(0, 100).all() and unbounded.value.between(0, 100).all()
    sizes = classic.drop_duplicates("cohort").cohort_size.sum()
    assert sizes == frame.customer_id.nunique()  # cohort sizes sum to customers acquired
    assert (classic.query("period_index == 0").value == 100.0).all()
    assert (unbounded.active >= classic.active).all()
    for _, part in unbounded.groupby("cohort"):
        assert part.active.is_monotonic_decreasing
    assert classic.revenue.sum() == pytest.approx(frame.amount.sum())
