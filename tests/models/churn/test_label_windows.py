"""Contractual lines fail early and plainly when no label window holds churn (a Telco-like
snapshot: every churner leaves on the last day of the data)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.features.sources import Sources
from retain.models.churn import train_model
from retain.models.churn._windows import check_label_windows

END = pd.Timestamp("2019-09-30")


def _snapshot(n: int = 300, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Subscriptions started over three years; a quarter ended on the data's last day."""
    rng = np.random.default_rng(seed)
    months = rng.integers(1, 36, n)
    started = [pd.Timestamp("2019-09-01") - pd.DateOffset(months=int(m)) for m in months]
    churned = rng.random(n) < 0.25
    ids = [f"T{i:04d}" for i in range(n)]
    subscriptions = pd.DataFrame(
        {
            "subscription_id": [f"S{i:04d}" for i in range(n)],
            "customer_id": ids,
            "plan": rng.choice(["month", "year"], n),
            "started_at": started,
            "ended_at": [END if c else pd.NaT for c in churned],
            "billing_period": "month",
            "amount": rng.uniform(20, 100, n).round(2),
        }
    )
    customers = pd.DataFrame({"customer_id": ids, "acquired_at": started})
    return {"customers": customers, "subscriptions": subscriptions}


def test_no_churn_in_any_window_fails_before_features(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_panel(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("features were built before the label windows were checked")

    monkeypatch.setattr("retain.models.churn.training.build_panel", no_panel)
    definition = ChurnDefinition(name="telco", kind="contractual", horizon_days=90)
    with pytest.raises(InvalidParameterError) as caught:
        train_model(_snapshot(), definition=definition)
    error = caught.value
    message = str(error)
    assert "no customer churned within 90 days" in message
    # The dates tried, each with its churners: the first and last three, the rest elided.
    assert "2019-07-01: 0 of " in message and "more" in message
    # The last date whose 90-day window the data covers catches the churners of 2019-09-30.
    hint = str(error.hint)
    assert "--as-of 2019-07-03" in hint
    assert "churned there" in hint and "2019-09-01" in hint


def test_a_window_with_churn_passes() -> None:
    definition = ChurnDefinition(name="telco", kind="contractual", horizon_days=30)
    sources = Sources.of(_snapshot())
    counts = check_label_windows(sources, definition, ["2019-09-01"], data_end=END)
    (row,) = counts.itertuples()
    assert 0 < row.churned < row.n


def test_subscriptions_without_orders_point_to_contractual() -> None:
    definition = ChurnDefinition(name="telco", horizon_days=30)  # non-contractual by default
    data = _snapshot()
    orders = pd.DataFrame(
        {
            "order_id": pd.Series([], dtype=str),
            "customer_id": pd.Series([], dtype=str),
            "ordered_at": pd.Series([], dtype="datetime64[ns]"),
            "amount": pd.Series([], dtype=float),
        }
    )
    with pytest.raises(InvalidParameterError) as caught:
        check_label_windows(
            Sources.of({**data, "orders": orders}), definition, ["2019-09-01"], data_end=END
        )
    assert "subscriptions and no orders" in str(caught.value)
    assert 'kind = "contractual"' in str(caught.value.hint)


def test_events_are_activity_enough_not_to_call_the_line_contractual() -> None:
    definition = ChurnDefinition(name="app", horizon_days=30, activity="events")
    data = _snapshot()
    ids = data["customers"]["customer_id"]
    # Everyone active in July; every other customer again in August (the others churn).
    events = pd.DataFrame(
        {
            "event_id": [f"E{i}" for i in range(len(ids) + len(ids[::2]))],
            "customer_id": [*ids, *ids[::2]],
            "occurred_at": [pd.Timestamp("2019-07-15")] * len(ids)
            + [pd.Timestamp("2019-08-15")] * len(ids[::2]),
            "name": "login",
        }
    )
    sources = Sources.of({**data, "events": events})
    counts = check_label_windows(sources, definition, ["2019-08-01"], data_end=END)
    (row,) = counts.itertuples()
    assert row.n == len(ids) and row.churned == len(ids) // 2  # no call to go contractual
