"""Value at risk is p(churn) x CLV, unknown without a CLV (counted as 0 in totals), and the
overview's total is the sum of the list's values on the same data."""

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


def test_value_at_risk_is_unknown_without_clv_and_totals_count_it_as_zero() -> None:
    t = ibis.memtable({"p": [0.5, 0.25, 0.9], "clv": [100.0, None, 10.0]})
    values = t.select(v=value_at_risk(t.p, t.clv)).to_pyarrow().column("v").to_pylist()
    assert values == [50.0, None, 9.0]
    assert t.aggregate(total=total_value_at_risk(t.p, t.clv)).execute().total[0] == 59.0


def test_the_overview_summary_and_the_list_agree(scored: Any) -> None:
    summary = at_risk_summary(scored, definition="default").execute().iloc[0]
    assert (summary.scored, summary.high, summary.medium) == (5, 3, 1)
    assert summary.at_risk_value == sum(VALUE_AT_RISK.values()) == 580.0
    every = AtRiskQuery(definition="default", risk_bands=("high", "medium", "low"))
    page = at_risk(scored, every, pii=False)
    assert {r.customer_id: r.at_risk_value or 0.0 for r in page.rows} == VALUE_AT_RISK
    assert sum(r.at_risk_value or 0.0 for r in page.rows) == summary.at_risk_value


def test_without_clv_scores_nothing_is_claimed_at_risk(scored: Any) -> None:
    tables = frozenset({"churn_scores", "customers"})
    summary = at_risk_summary(scored, definition="default", tables=tables).execute().iloc[0]
    assert summary.scored == 5 and summary.at_risk_value == 0.0
