"""The data window of a panel (what happened, not what is scheduled) and dates it can label."""

from __future__ import annotations

import pandas as pd
import pytest

from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.models.churn import data_window, train_model


def test_a_scheduled_subscription_end_does_not_extend_the_window() -> None:
    subs = pd.DataFrame(
        {
            "subscription_id": ["s1", "s2", "s3"],
            "customer_id": ["a", "b", "c"],
            "plan": ["m", "m", "y"],
            "started_at": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-03-01"]),
            # s2 ended in the past; s3's cancellation takes effect at its renewal, years ahead.
            "ended_at": pd.to_datetime([None, "2024-06-30", "2099-03-01"]),
            "amount": [10.0, 10.0, 100.0],
        }
    )
    events = pd.DataFrame(
        {
            "event_id": ["e1"],
            "customer_id": ["a"],
            "occurred_at": pd.to_datetime(["2024-05-01"]),
            "name": ["login"],
        }
    )
    window = data_window({"subscriptions": subs, "events": events})
    assert window.start == pd.Timestamp("2024-01-05")
    assert window.end == pd.Timestamp("2024-06-30")


@pytest.mark.parametrize("as_of", ["2023-12-01", "2024-06-15"])
def test_training_refuses_dates_the_data_cannot_label(as_of: str) -> None:
    """Before the data begins there is no history; with the horizon past the data's end,
    customers would be labelled churned for want of data."""
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "customer_id": ["a", "b", "a"],
            "ordered_at": pd.to_datetime(["2024-01-02", "2024-02-01", "2024-06-30"]),
            "amount": [10.0, 20.0, 30.0],
        }
    )
    definition = ChurnDefinition(name="shop", horizon_days=90)
    with pytest.raises(InvalidParameterError, match=f"reference date {as_of} lies outside"):
        train_model({"orders": orders}, definition=definition, dates=[as_of])
