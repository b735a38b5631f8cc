"""The latest score per customer: newest reference date, then the later run, then the higher
model version; one row per (customer, definition) for churn and per customer for CLV."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from retain.errors import InvalidParameterError
from retain.targeting import (
    CHURN_RECENCY,
    latest_churn_scores,
    latest_clv_scores,
    latest_per_definition,
)


def _by_customer(table: Any, column: str) -> dict[str, Any]:
    frame = table.execute()
    return dict(zip(frame.customer_id, frame[column], strict=True))


def test_latest_churn_score_per_customer_of_one_definition(scored: Any) -> None:
    latest = _by_customer(latest_churn_scores(scored, "default"), "probability")
    # a1: June beats May; a2: same as_of, later scored_at; a4: same run, model version 2
    assert latest == {"a1": 0.9, "a2": 0.65, "a3": 0.8, "a4": 0.1, "a5": 0.7}


def test_without_a_definition_each_definition_keeps_its_own_latest(scored: Any) -> None:
    frame = latest_churn_scores(scored).execute()
    pairs = sorted(zip(frame.customer_id, frame.definition, frame.probability, strict=True))
    assert pairs[:2] == [("a1", "default", 0.9), ("a1", "subscription", 0.05)]
    assert len(pairs) == 6


def test_latest_clv_per_customer(scored: Any) -> None:
    assert _by_customer(latest_clv_scores(scored), "clv") == {
        "a1": 200.0,
        "a2": 400.0,
        "a3": 50.0,
        "a4": 1000.0,
    }


def test_as_of_reads_what_was_known_then(scored: Any) -> None:
    then = latest_churn_scores(scored, "default", as_of="2024-06-15")
    assert _by_customer(then, "probability") == {"a1": 0.2, "a2": 0.5}
    clv = latest_clv_scores(scored, as_of=dt.date(2024, 6, 15))
    assert _by_customer(clv, "clv") == {"a1": 100.0}
    with pytest.raises(InvalidParameterError, match="as_of"):
        latest_churn_scores(scored, as_of="not a date")


def test_latest_per_definition_keeps_the_first_row_of_each() -> None:
    rows = [
        {"definition": "default", "probability": 0.9},
        {"definition": "subscription", "probability": 0.05},
        {"definition": "default", "probability": 0.2},
    ]
    assert [r["probability"] for r in latest_per_definition(rows)] == [0.9, 0.05]
    assert CHURN_RECENCY[0] == "as_of"
