"""The value x risk grid on the small scored business of ``_targeting_data``."""

from __future__ import annotations

from typing import Any

import _targeting_data as data
import pytest

from retain.errors import InvalidParameterError
from retain.targeting.segments import GRID_SEGMENTS, value_risk_grid

# Latest CLV, highest first: a4 1000, a2 400, a1 200, a3 50 (a5 has no CLV). With four
# customers the top 20 % is a4 alone and the top 50 % adds a2.
WANT = {
    "a4": "high_value_low_risk",
    "a2": "medium_value_medium_risk",
    "a1": "low_value_high_risk",
    "a3": "low_value_high_risk",
}


def _grid(con: Any, **kw: Any) -> dict[str, str]:
    frame = value_risk_grid(con, **kw).to_pandas()
    return dict(zip(frame.customer_id, frame.segment, strict=True))


def test_tiers_cross_the_latest_risk_band(scored: Any) -> None:
    assert _grid(scored, definition="default") == WANT
    assert set(WANT.values()) <= set(GRID_SEGMENTS)


def test_the_riskiest_line_decides_without_a_definition(scored: Any) -> None:
    # a1 is high risk on "default" (0.9) and low on "subscription" (0.05).
    assert _grid(scored) == WANT
    assert _grid(scored, definition="subscription") == {"a1": "high_value_low_risk"}


def test_what_was_known_on_a_date(scored: Any) -> None:
    # On May 31 only a1 had both scores: CLV 100, churn 0.2 (low).
    assert _grid(scored, as_of=data.MAY) == {"a1": "high_value_low_risk"}


def test_tier_shares_are_configurable_and_checked(scored: Any) -> None:
    wide = _grid(scored, definition="default", high_pct=50, medium_pct=75)
    assert wide["a2"] == "high_value_medium_risk"
    assert wide["a1"] == "medium_value_high_risk"
    with pytest.raises(InvalidParameterError):
        value_risk_grid(scored, high_pct=60, medium_pct=50)
