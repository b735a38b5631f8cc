"""Memberships stored by date and movement between two dates."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from _segment_data import AS_OF, ROWS, orders_frame

import retain.warehouse as wh
from retain.errors import InvalidParameterError, NotFoundError
from retain.targeting.segments import (
    RFM_SEGMENTS,
    membership_dates,
    memberships,
    movement_matrix,
    movers,
    require_stored,
    rfm_scores,
    store_memberships,
)

EARLIER = "2024-06-05"


@pytest.fixture
def stored(warehouse: Any) -> Any:
    wh.write_table(warehouse, "orders", orders_frame(ROWS))
    orders = warehouse.table("orders")
    for day in (EARLIER, AS_OF):
        store_memberships(warehouse, "rfm", day, rfm_scores(orders, day))
    return warehouse


def _stored_frame(con: Any, day: str) -> pd.DataFrame:
    return memberships(con, "rfm", day).to_pandas().set_index("customer_id")


def test_memberships_are_stored_with_their_date(stored: Any) -> None:
    assert membership_dates(stored, "rfm") == [pd.Timestamp(EARLIER), pd.Timestamp(AS_OF)]
    later = _stored_frame(stored, AS_OF)
    assert len(later) == 10
    assert later.loc["c10", "segment"] == "cant_lose_them"
    assert "c03" not in _stored_frame(stored, EARLIER).index  # first order on June 20


def test_storing_a_date_again_replaces_only_that_date(stored: Any) -> None:
    before = _stored_frame(stored, EARLIER)
    store_memberships(
        stored, "rfm", AS_OF, pd.DataFrame({"customer_id": ["c01"], "segment": ["lost"]})
    )
    assert _stored_frame(stored, AS_OF)["segment"].to_dict() == {"c01": "lost"}
    pd.testing.assert_frame_equal(_stored_frame(stored, EARLIER), before)
    assert wh.read_table(stored, "segment_memberships").count().execute() == len(before) + 1


def test_movement_matrix_totals_equal_the_population_at_both_dates(stored: Any) -> None:
    matrix = movement_matrix(stored, "rfm", EARLIER, AS_OF)
    both = set(_stored_frame(stored, EARLIER).index) & set(_stored_frame(stored, AS_OF).index)
    assert int(matrix.to_numpy().sum()) == len(both) == 9  # all but c03 (first order June 20)
    assert list(matrix.index) == list(RFM_SEGMENTS) == list(matrix.columns)
    pairs = movers(stored, "rfm", EARLIER, AS_OF, from_segment="champions").to_pandas()
    assert int(matrix.loc["champions"].sum()) == len(pairs)


def test_movers_of_one_transition(stored: Any) -> None:
    earlier = _stored_frame(stored, EARLIER)["segment"]
    later = _stored_frame(stored, AS_OF)["segment"]
    changed = sorted(c for c in earlier.index if c in later.index and earlier[c] != later[c])
    got = movers(stored, "rfm", EARLIER, AS_OF).to_pandas()
    assert got["customer_id"].tolist() == changed
    row = got.iloc[0]
    one = movers(
        stored, "rfm", EARLIER, AS_OF, from_segment=row.from_segment, to_segment=row.to_segment
    ).to_pandas()
    assert row.customer_id in set(one.customer_id)
    assert set(one.from_segment) == {row.from_segment}
    matrix = movement_matrix(stored, "rfm", EARLIER, AS_OF)
    assert matrix.loc[row.from_segment, row.to_segment] == len(one)


def test_unknown_names_and_missing_dates_are_clear_errors(stored: Any) -> None:
    with pytest.raises(InvalidParameterError, match="not a segment"):
        memberships(stored, "rfm", AS_OF, "loyalists")
    with pytest.raises(InvalidParameterError, match="scheme"):
        memberships(stored, "rfx", AS_OF)
    with pytest.raises(NotFoundError) as caught:
        require_stored(stored, "rfm", "2024-05-01")
    assert "2024-06-05, 2024-07-01" in (caught.value.hint or "")


def test_storing_no_members_empties_that_date_only(stored: Any) -> None:
    before = _stored_frame(stored, EARLIER)
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype=str), "segment": []})
    assert store_memberships(stored, "rfm", AS_OF, empty) == 0
    assert _stored_frame(stored, AS_OF).empty
    pd.testing.assert_frame_equal(_stored_frame(stored, EARLIER), before)
