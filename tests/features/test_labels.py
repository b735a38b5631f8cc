"""Churn labels per kind of business, on the tiny hand-made business."""

from __future__ import annotations

import pandas as pd
import pytest

from retain.config import ChurnDefinition
from retain.errors import MissingColumnError
from retain.features import churn_labels, label_window_complete, population


def _labels(
    tables: dict[str, pd.DataFrame], definition: ChurnDefinition, as_of: str
) -> dict[str, int]:
    frame = churn_labels(tables, as_of=as_of, definition=definition).to_pandas()
    return dict(zip(frame.customer_id, frame.churned.astype(int), strict=True))


def test_non_contractual_orders(business: dict[str, pd.DataFrame]) -> None:
    # a orders again on 2024-05-10 (inside 90 days); b and c do not.
    assert _labels(business, ChurnDefinition(), "2024-04-01") == {"a": 0, "b": 1, "c": 1}
    # With a 30-day horizon a's next order (day 39) is too late.
    assert _labels(business, ChurnDefinition(horizon_days=30), "2024-04-01")["a"] == 1


def test_non_contractual_events_of_chosen_names(business: dict[str, pd.DataFrame]) -> None:
    logins = ChurnDefinition(activity="events", event_names=["login"])
    # Only a (2024-03-30) and b have logged in before as_of; b logs in again on 2024-04-15.
    assert _labels(business, logins, "2024-04-01") == {"a": 1, "b": 0}


def test_contractual_plan_change_is_not_churn(business: dict[str, pd.DataFrame]) -> None:
    # On 2023-08-01 b is on basic; it ends 2023-09-01 but pro starts the same day: not churn.
    assert _labels(business, ChurnDefinition(kind="contractual"), "2023-08-01") == {"b": 0}
    # On 2024-04-01 pro ends on 2024-05-15, inside 90 days, and nothing replaces it.
    assert _labels(business, ChurnDefinition(kind="contractual"), "2024-04-01") == {"b": 1}
    assert _labels(
        business, ChurnDefinition(kind="contractual", horizon_days=30), "2024-04-01"
    ) == {"b": 0}


def test_plan_filter(business: dict[str, pd.DataFrame]) -> None:
    basic_only = ChurnDefinition(kind="contractual", plans=["basic"])
    assert _labels(business, basic_only, "2023-08-01") == {"b": 1}
    assert population(business, as_of="2024-04-01", definition=basic_only).to_pandas().empty


def test_label_window_complete() -> None:
    d = ChurnDefinition(horizon_days=90)
    assert label_window_complete("2024-06-30", as_of="2024-04-01", definition=d)
    assert not label_window_complete("2024-06-29", as_of="2024-04-01", definition=d)


def test_events_definition_without_events_table(business: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(MissingColumnError, match="counts events as activity"):
        churn_labels(
            {"orders": business["orders"]},
            as_of="2024-04-01",
            definition=ChurnDefinition(activity="events"),
        )
