"""The at-risk list accepts a segment rule, evaluated as of the list's run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _rule_data import write_business

from retain.errors import InvalidParameterError
from retain.targeting import AtRiskQuery, at_risk, export_at_risk
from retain.targeting.segments import AllOf, Condition, parse_rule

ALL_BANDS = ("high", "medium", "low")


def _ids(con: Any, query: AtRiskQuery, **kw: Any) -> list[str]:
    return sorted(row.customer_id for row in at_risk(con, query, pii=False, **kw).rows)


def test_a_rule_narrows_the_list(warehouse: Any) -> None:
    con = write_business(warehouse)
    every = AtRiskQuery(definition="default", risk_bands=ALL_BANDS)
    assert _ids(con, every) == ["a1", "a2", "a3", "a4", "a5"]
    japan = AtRiskQuery(
        definition="default",
        risk_bands=ALL_BANDS,
        rule={"field": "country", "op": "=", "value": "JP"},
    )
    # As of the run (2024-06-30) a5 is not yet acquired, so the rule does not keep them.
    assert _ids(con, japan) == ["a1", "a3"]
    # The list keeps pages by query: another rule is another page, not the cached one.
    logins = AtRiskQuery(
        definition="default",
        risk_bands=ALL_BANDS,
        rule={"event": "login", "at_least": 1, "days": 30},
    )
    assert _ids(con, logins) == ["a1", "a2", "a3"]
    assert _ids(con, japan) == ["a1", "a3"]
    # The uncached path (a fixed clock) agrees.
    now = dt.datetime(2024, 7, 5)
    assert _ids(con, japan, now=now) == ["a1", "a3"]
    assert export_at_risk(con, japan, pii=False).total == 2


def test_the_rule_round_trips_through_the_stored_form_and_combines() -> None:
    query = AtRiskQuery(risk_bands=("high",), rule='{"field": "clv", "op": ">", "value": 10}')
    assert query.rule == Condition("clv", ">", 10)
    stored = query.filters().to_dict()
    assert stored == {"risk_bands": ["high"], "rule": {"field": "clv", "op": ">", "value": 10}}
    assert AtRiskQuery.from_dict(stored) == query.filters()
    assert "rule" not in query.to_params(defaults=True)
    asked = AtRiskQuery(segment="vip", rule={"field": "country", "op": "=", "value": "JP"})
    merged = asked.narrowed_by(AtRiskQuery.from_dict(stored))
    assert merged.segment is None
    assert merged.rule == AllOf((Condition("country", "=", "JP"), Condition("clv", ">", 10)))
    assert merged.risk_bands == ("high",)
    assert AtRiskQuery().narrowed_by(AtRiskQuery()).rule is None


def test_a_bad_rule_in_a_query_names_its_path() -> None:
    with pytest.raises(InvalidParameterError, match=r"rule\.all\[1\]\.field: unknown field"):
        AtRiskQuery(rule={"all": [{"field": "clv", "op": ">", "value": 1}, {"field": "x"}]})
    assert parse_rule({"field": "clv", "op": ">", "value": 1}) == Condition("clv", ">", 1)
