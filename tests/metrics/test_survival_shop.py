"""Survival of shop customers: time to churn under the line's inactivity rule (#16 item 11).

Hand-checked on five customers with H = 30 days and as_of 2024-06-30:

- a buys 01-01, 01-20, 03-01: 41 days follow 01-20, so a churned on 02-19 (day 49), and the
  comeback in March does not undo that first churn;
- b buys 06-10: within H of as_of, censored at day 20;
- c buys 04-01 and 05-01 (a gap of exactly H is not churn), then nothing: churned on 05-31,
  day 60;
- d buys 05-31: exactly H before as_of, not yet churned, censored at day 30;
- e's only order is cancelled: not a customer.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from metric_tables import load, orders_frame

from retain.errors import InvalidParameterError, MissingColumnError
from retain.metrics import (
    event_activity,
    inactivity_durations,
    kaplan_meier,
    subscription_activity,
    survival_summary,
)

ROWS: list[tuple[str, str, float] | tuple[str, str, float, str]] = [
    ("a", "2024-01-01", 10.0),
    ("a", "2024-01-20", 10.0),
    ("a", "2024-03-01", 10.0),
    ("b", "2024-06-10", 10.0),
    ("c", "2024-04-01", 10.0),
    ("c", "2024-05-01", 10.0),
    ("d", "2024-05-31", 10.0),
    ("e", "2024-02-01", 10.0, "cancelled"),
]


@pytest.fixture
def orders(duck: Any) -> Any:
    return load(duck, "orders", orders_frame(ROWS))


def _lives(table: Any) -> list[tuple[Any, ...]]:
    frame = table.to_pandas()
    return [tuple(r) for r in frame.itertuples(index=False)]


def test_durations_by_hand(orders: Any) -> None:
    lives = inactivity_durations(orders, horizon_days=30, unit="day", as_of="2024-06-30")
    assert _lives(lives) == [(20, 0, 1), (30, 0, 1), (49, 1, 1), (60, 1, 1)]
    curve = kaplan_meier(lives).set_index("timeline")
    # at day 49: a and c at risk, a churns; at day 60 c, the last one, churns
    assert curve.loc[49.0, "survival"] == pytest.approx(0.5)
    assert curve.loc[60.0, "survival"] == pytest.approx(0.0)
    assert curve.loc[49.0, "at_risk"] == 2
    assert {"ci_lower", "ci_upper"} <= set(curve.columns)
    summary = survival_summary(lives)
    assert summary.iloc[0][["customers", "churned"]].tolist() == [4, 2]


def test_default_as_of_is_the_latest_activity_and_weeks(orders: Any) -> None:
    # as_of = 06-10 (b's order): d (05-31) is 10 days back, c's lapse on 05-31 is before it
    lives = inactivity_durations(orders, horizon_days=30, unit="week")
    assert _lives(lives) == [(0, 0, 1), (1, 0, 1), (7, 1, 1), (8, 1, 1)]


def test_by_customer_column_or_attribute_and_unknown_names(duck: Any, orders: Any) -> None:
    customers = load(
        duck,
        "customers",
        pd.DataFrame(
            {
                "customer_id": ["a", "b", "c"],
                "country": ["JP", "JP", "KR"],
                "attributes": ['{"tier": "gold"}', None, None],
            }
        ),
    )
    lives = inactivity_durations(
        orders, horizon_days=30, unit="day", as_of="2024-06-30", customers=customers, by="country"
    ).to_pandas()
    got = {(r.country, r.duration, r.observed) for r in lives.itertuples()}
    assert got == {("JP", 20, 0), ("JP", 49, 1), ("KR", 60, 1), (None, 30, 0)}
    tiers = inactivity_durations(
        orders, horizon_days=30, as_of="2024-06-30", customers=customers, by="tier"
    ).to_pandas()
    assert set(tiers.tier.dropna()) == {"gold"}
    with pytest.raises(MissingColumnError) as err:
        inactivity_durations(orders, horizon_days=30, customers=customers, by="nosuch")
    hint = str(err.value.violations[0].hint)
    assert "country" in hint and "tier" in hint


def test_events_count_as_activity_and_bad_inputs(duck: Any, orders: Any) -> None:
    events = load(
        duck,
        "events",
        pd.DataFrame(
            {
                "event_id": ["1", "2", "3"],
                "customer_id": ["x", "x", "x"],
                "occurred_at": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-03-01"]),
                "name": ["login", "page", "login"],
            }
        ),
    )
    # logins only: a gap of 60 days after 01-01 is a churn on 01-31 (day 30)
    lives = inactivity_durations(
        None, horizon_days=30, activity=event_activity(events, "login"), unit="day"
    )
    assert _lives(lives) == [(30, 1, 1)]
    for bad in (0, -3, True):
        with pytest.raises(InvalidParameterError):
            inactivity_durations(orders, horizon_days=bad)
    with pytest.raises(InvalidParameterError):
        inactivity_durations(orders, horizon_days=30, unit="year")  # type: ignore[arg-type]
    subs = load(
        duck,
        "subscriptions",
        pd.DataFrame(
            {
                "customer_id": ["a"],
                "started_at": pd.to_datetime(["2024-01-01"]),
                "ended_at": pd.to_datetime([None]),
            }
        ),
    )
    with pytest.raises(InvalidParameterError):
        inactivity_durations(None, horizon_days=30, activity=subscription_activity(subs))
