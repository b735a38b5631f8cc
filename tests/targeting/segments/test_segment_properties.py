"""Property tests: RFM scores stay in 1..bins, agree with the reference, rise with recency."""

from __future__ import annotations

import ibis
import pandas as pd
from _segment_data import orders_frame, reference_rfm
from hypothesis import given, settings
from hypothesis import strategies as st

from retain.targeting.segments import RFM_SEGMENTS, rfm_scores

AS_OF = "2024-07-01"

order = st.tuples(
    st.sampled_from([f"k{i}" for i in range(12)]),
    st.integers(min_value=0, max_value=400).map(
        lambda d: (pd.Timestamp(AS_OF) - pd.Timedelta(days=d)).isoformat()
    ),
    st.sampled_from([-10.0, 0.0, 5.0, 20.0, 35.5, 100.0]),
    st.sampled_from(["completed", "completed", "completed", "returned", "cancelled"]),
)


def _scores(rows: list[tuple[str, str, float, str]], bins: int) -> pd.DataFrame:
    orders = ibis.memtable(orders_frame(rows))
    frame = rfm_scores(orders, AS_OF, bins=bins, currency="USD").to_pandas()
    return frame.sort_values("customer_id", ignore_index=True)


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(order, min_size=1, max_size=40), bins=st.integers(min_value=2, max_value=10))
def test_scores_are_in_range_and_match_the_reference(
    rows: list[tuple[str, str, float, str]], bins: int
) -> None:
    got = _scores(rows, bins)
    want = reference_rfm(orders_frame(rows), AS_OF, bins)
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    for col in ("r", "f", "m"):
        assert got[col].between(1, bins).all()
        assert got[col].tolist() == want[col].tolist(), col
    assert set(got["segment"]) <= set(RFM_SEGMENTS)
    assert got["segment"].tolist() == want["segment"].tolist()


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(order, min_size=1, max_size=40), bins=st.integers(min_value=2, max_value=10))
def test_scores_are_monotone(rows: list[tuple[str, str, float, str]], bins: int) -> None:
    got = _scores(rows, bins)
    for value, score in (("recency_days", "r"), ("frequency", "f"), ("monetary", "m")):
        # Fewer days since the last order never scores lower; more orders or revenue neither.
        ordered = got.sort_values(value, ascending=value != "recency_days", kind="stable")
        assert ordered[score].is_monotonic_increasing, value
