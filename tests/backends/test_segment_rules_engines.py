"""Segment rules keep the same customers on DuckDB, PostgreSQL and Spark (one Ibis query)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import retain.warehouse as wh
from retain.targeting.segments import parse_rule, segment_members, size_history

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targeting" / "segments"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targeting"))
from _rule_data import JULY, JUNE_15, write_business

RULES: dict[str, dict[str, Any]] = {
    "tenure": {"field": "tenure_days", "op": "between", "value": [30, 200]},
    "not japan": {"not": {"field": "country", "op": "in", "value": ["JP"]}},
    "acquired": {"field": "acquired_at", "op": "<", "value": "2024-01-01T12:00:00"},
    "opt in": {"field": "email_opt_in", "op": "=", "value": True},
    "scores": {
        "any": [
            {"field": "risk_band", "op": "=", "value": "high"},
            {"field": "at_risk_value", "op": ">=", "value": 200},
        ]
    },
    "clv missing": {"field": "clv", "op": "is_null"},
    "attributes": {
        "all": [
            {"field": "attributes.visits", "op": ">", "value": 2.5},
            {"field": "attributes.plan", "op": "!=", "value": "gold"},
        ]
    },
    "events": {"event": "login", "at_least": 2, "days": 30},
    "memberships": {"field": "segment.rfm", "op": "not_in", "value": ["lost"]},
}


def _run(con: Any) -> dict[str, Any]:
    write_business(con)
    out: dict[str, Any] = {}
    for name, rule in RULES.items():
        for day in (JUNE_15, JULY):
            found = segment_members(con, parse_rule(rule), as_of=day).to_pandas()
            out[f"{name} {day:%m-%d}"] = sorted(found["customer_id"])
    sizes = size_history(con, parse_rule(RULES["scores"]), end="2024-09-01", months=4)
    out["sizes"] = sizes["customers"].tolist()
    return out


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    con = wh.connect("duckdb://")
    wh.create_tables(con)
    return _run(con)


def test_reference_keeps_someone_for_every_rule(reference: dict[str, Any]) -> None:
    assert all(reference[f"{name} 06-15"] or reference[f"{name} 07-01"] for name in RULES)
    assert reference["scores 06-15"] == [] and reference["scores 07-01"] == ["a1", "a2", "a3"]
    assert reference["clv missing 06-15"] == ["a2", "a3", "a4"]  # only May's CLV known (a1)
    # Month ends 06-01 .. 09-01: May's scores keep nobody; a5 (high) counts from 09-01.
    assert reference["sizes"] == [0, 3, 3, 4]


@pytest.mark.postgres
def test_rules_are_identical_on_postgres(postgres_url: str, reference: dict[str, Any]) -> None:
    con = wh.connect(postgres_url)
    wh.create_tables(con)
    try:
        assert _run(con) == reference
    finally:
        con.disconnect()


@pytest.mark.spark
def test_rules_are_identical_on_spark(spark_warehouse: Any, reference: dict[str, Any]) -> None:
    assert _run(spark_warehouse) == reference
