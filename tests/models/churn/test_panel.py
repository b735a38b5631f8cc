"""The data window of a panel: what has happened, not what is scheduled."""

from __future__ import annotations

import pandas as pd

from retain.models.churn import data_window


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
