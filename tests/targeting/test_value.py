"""Value at risk is p(churn) x CLV, a missing CLV counting as 0, and the overview's total is
the sum of the list's values on the same data."""

from __future__ import annotations

from typing import Any

import ibis
from _targeting_data import VALUE_AT_RISK

from retain.targeting import (
    AtRiskQuery,
    at_risk,
    at_risk_summary,
    total_value_at_risk,
    value_at_risk,
)


def test_value_at_risk_counts_a_missing_clv_as_zero() -> None:
    t = ibis.memtable({"p": [0.5, 0.25, 0.9], "clv": [100.0, None, 10.0]})
    values = t.select(v=value_at_risk(t.p, t.clv)).execute().v.tolist()
    assert values == [50.0, 0.0, 9.0]
    assert t.aggregate(total=total_value_at_risk(t.p, t.clv)).execute().total[0] == 59.0


def test_the_overview_summary_and_the_list_agree(scored: Any) -> None:
    summary = at_risk_summary(scored, definition="default").execute().iloc[0]
    assert (summary.scored, summary.high, summary.medium) == (5, 3, 1)
    assert summary.at_risk_value == sum(VALUE_AT_RISK.values()) == 580.0
    page = at_risk(scored, AtRiskQuery(definition="default"), pii=False)
    assert {r.customer_id: r.at_risk_value for r in page.rows} == VALUE_AT_RISK
    assert sum(r.at_risk_value for r in page.rows) == summary.at_risk_value


def test_without_clv_scores_nothing_is_claimed_at_risk(scored: Any) -> None:
    tables = frozenset({"churn_scores", "customers"})
    summary = at_risk_summary(scored, definition="default", tables=tables).execute().iloc[0]
    assert summary.scored == 5 and summary.at_risk_value == 0.0
