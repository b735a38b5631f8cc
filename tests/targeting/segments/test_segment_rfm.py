"""RFM scores and segments on the hand-checked business, the rule table, frequency segments."""

from __future__ import annotations

import itertools
from typing import Any

import ibis
import pandas as pd
import pytest
from _segment_data import AS_OF, EXPECTED, ROWS, orders_frame, reference_rfm

import retain.warehouse as wh
from retain.errors import InvalidParameterError
from retain.targeting.segments import (
    RFM_RULES,
    RFM_SEGMENTS,
    FrequencyThresholds,
    frequency_segments,
    rfm_scores,
    rfm_segment,
    to_five,
)
from retain.targeting.segments.rfm import _segment


@pytest.fixture
def orders(warehouse: Any) -> Any:
    wh.write_table(warehouse, "orders", orders_frame(ROWS))
    return warehouse.table("orders")


def test_hand_checked_scores_and_segments(orders: Any) -> None:
    got = rfm_scores(orders, AS_OF).to_pandas().set_index("customer_id")
    assert sorted(got.index) == sorted(EXPECTED)  # r1 (refund only) and x1 (cancelled) absent
    for cid, (r, f, m, segment) in EXPECTED.items():
        row = got.loc[cid]
        assert (row.r, row.f, row.m, row.segment) == (r, f, m, segment), cid


def test_values_use_completed_orders_and_net_revenue(orders: Any) -> None:
    got = rfm_scores(orders, AS_OF).to_pandas().set_index("customer_id")
    assert got.loc["c09", "monetary"] == 10.0  # 15 less the 5 returned
    assert got.loc["c09", "frequency"] == 1  # the return is not an order
    assert got.loc["c08", "frequency"] == 1  # the order after as_of does not count
    assert got.loc["c01", "recency_days"] == 1
    assert got.loc["c10", "recency_days"] == 213


def test_one_time_buyers_tie_at_the_lowest_frequency_score(orders: Any) -> None:
    got = rfm_scores(orders, AS_OF).to_pandas()
    assert set(got.loc[got.frequency == 1, "f"]) == {1}


def test_engine_matches_the_pandas_reference_for_other_bins(orders: Any) -> None:
    frame = orders_frame(ROWS)
    for bins in (2, 3, 4, 10):
        got = rfm_scores(orders, AS_OF, bins=bins).to_pandas().sort_values("customer_id")
        want = reference_rfm(frame, AS_OF, bins)
        for col in ("r", "f", "m", "segment"):
            assert got[col].tolist() == want[col].tolist(), (bins, col)


def test_rule_table_covers_every_score_pair_exactly_once() -> None:
    for r, f in itertools.product(range(1, 6), repeat=2):
        assert sum(rule.covers(r, f) for rule in RFM_RULES) == 1, (r, f)


def test_every_named_segment_is_reachable_in_the_engine() -> None:
    pairs = pd.DataFrame(list(itertools.product(range(1, 6), repeat=2)), columns=["r", "f"])
    table = ibis.memtable(pairs)
    got = table.mutate(segment=_segment(table.r, table.f)).to_pandas()
    con = wh.connect("duckdb://")
    named = con.execute(ibis.memtable(got))
    assert sorted(set(named.segment)) == sorted(RFM_SEGMENTS)
    for row in named.itertuples():
        assert row.segment == rfm_segment(row.r, row.f)


def test_to_five_maps_bins_onto_the_five_point_scale() -> None:
    assert [to_five(s, 5) for s in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [to_five(s, 10) for s in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [to_five(s, 4) for s in range(1, 5)] == [2, 3, 4, 5]


def test_bins_out_of_range_are_refused(orders: Any) -> None:
    with pytest.raises(InvalidParameterError, match="bins"):
        rfm_scores(orders, AS_OF, bins=1)


def test_frequency_segments(orders: Any) -> None:
    got = frequency_segments(orders, AS_OF).to_pandas().set_index("customer_id")
    assert got.loc["c01", "segment"] == "frequent"  # 6 orders
    assert got.loc["c07", "segment"] == "frequent"  # 4, the threshold itself
    assert got.loc["c04", "segment"] == "occasional"  # 3
    assert got.loc["c05", "segment"] == "occasional"  # 2
    assert set(got.loc[["c03", "c06", "c08", "c09"], "segment"]) == {"one_time"}
    assert "r1" not in got.index and "x1" not in got.index


def test_frequency_thresholds_and_window(orders: Any) -> None:
    limits = FrequencyThresholds(frequent=6, occasional=3, window_days=30)
    got = frequency_segments(orders, AS_OF, thresholds=limits).to_pandas().set_index("customer_id")
    # From June 1: c01 and c02 on the 30, 23, 16, 9 and 2; c03 on the 20; c04 on the 10 and 3.
    assert got["frequency"].to_dict() == {"c01": 5, "c02": 5, "c03": 1, "c04": 2}
    assert got["segment"].to_dict() == {
        "c01": "occasional",
        "c02": "occasional",
        "c03": "one_time",
        "c04": "one_time",
    }
    with pytest.raises(InvalidParameterError):
        FrequencyThresholds(frequent=2, occasional=2)
    with pytest.raises(InvalidParameterError):
        FrequencyThresholds(window_days=0)
