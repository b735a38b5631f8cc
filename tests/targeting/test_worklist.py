"""The at-risk list as a team works it: the latest scoring run of a line only, customers who
have already churned left out, the high and medium bands, probability order where value is
unknown, and search and filters by reason, plan, tenure and country (any letter case).

A contractual line ("subscription") scored twice, with no CLV anywhere:

====  ===========  ===========  ================================  ========  ==========
id    run May 1    run June 1   subscription                      acquired  country
====  ===========  ===========  ================================  ========  ==========
s1    0.90 high    (not scored)  Gold, ended May 20                Jan 1     JP
s2    0.50 medium  0.80 high    Gold, running                     Jan 1     KR
s3    -            0.60 medium  Gold, ended June 15                (none)    JP
s4    -            0.70 high    Silver, notice given: ends Aug 1  May 1     jp
s5    -            0.20 low     Gold, running                     Jan 1     JP
====  ===========  ===========  ================================  ========  ==========

"Now" is July 1: s3 has already left; s4 is still a customer, and worth a call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _targeting_data import _churn, _reasons, write

from retain.config import ChurnDefinition
from retain.targeting import AtRiskQuery, at_risk, at_risk_summary, export_at_risk

MAY, JUNE, NOW = dt.datetime(2024, 5, 1), dt.datetime(2024, 6, 1), dt.datetime(2024, 7, 1)
JAN = dt.datetime(2024, 1, 1)
LINE = ChurnDefinition(name="subscription", kind="contractual", horizon_days=30)
SHOP = ChurnDefinition(name="subscription", kind="non_contractual", horizon_days=30)


def _sub(cid: str, plan: str, ended: dt.datetime | None) -> dict[str, Any]:
    row = {"subscription_id": cid, "customer_id": cid, "plan": plan, "started_at": JAN}
    return {**row, "ended_at": ended, "billing_period": "month", "amount": 10.0, "currency": "USD"}


@pytest.fixture
def line(warehouse: Any) -> Any:
    sub: dict[str, Any] = {"definition": "subscription"}
    paid = _reasons("reasons.payment_failed", n=1, days=3)
    complained = _reasons("reasons.complaints_unresolved", n=1, days=9)
    write(warehouse, "churn_scores", [
        _churn("s1", MAY, 0.9, "high", **sub),
        _churn("s2", MAY, 0.5, "medium", **sub),
        _churn("s2", JUNE, 0.8, "high", reasons=paid, **sub),
        _churn("s3", JUNE, 0.6, "medium", **sub),
        _churn("s4", JUNE, 0.7, "high", reasons=complained, **sub),
        _churn("s5", JUNE, 0.2, "low", **sub),
    ])  # fmt: skip
    write(warehouse, "subscriptions", [
        _sub("s1", "Gold", dt.datetime(2024, 5, 20)),
        _sub("s2", "Gold", None),
        _sub("s3", "Gold", dt.datetime(2024, 6, 15)),
        _sub("s4", "Silver", dt.datetime(2024, 8, 1)),
        _sub("s5", "Gold", None),
    ])  # fmt: skip
    write(warehouse, "customers", [
        {"customer_id": "s1", "acquired_at": JAN, "country": "JP", "email": "s1@x.org"},
        {"customer_id": "s2", "acquired_at": JAN, "country": "KR", "email": "s2@x.org"},
        {"customer_id": "s3", "acquired_at": None, "country": "JP", "email": "s3@x.org"},
        {"customer_id": "s4", "acquired_at": MAY, "country": "jp", "email": "Bob@Example.com"},
        {"customer_id": "s5", "acquired_at": JAN, "country": "JP", "email": "s5@x.org"},
    ])  # fmt: skip
    return warehouse


def _ids(
    con: Any, *, line: ChurnDefinition | None = LINE, pii: bool = False, **fields: Any
) -> list[str]:
    query = AtRiskQuery(definition="subscription", **fields)
    return [r.customer_id for r in at_risk(con, query, pii=pii, line=line, now=NOW).rows]


def test_only_the_latest_run_and_never_an_older_score(line: Any) -> None:
    page = at_risk(line, AtRiskQuery(definition="subscription"), pii=False)
    assert page.as_of == JUNE and {r.as_of for r in page.rows} == {JUNE}
    assert "s1" not in [r.customer_id for r in page.rows]  # its May score is not current
    assert [r.probability for r in page.rows if r.customer_id == "s2"] == [0.8]


def test_customers_who_already_left_are_left_out(line: Any) -> None:
    assert _ids(line, line=None) == ["s2", "s4", "s3"]  # no line given: nothing known to drop
    assert _ids(line) == ["s2", "s4"]  # s3's subscription ended June 15; s4's runs to Aug 1
    # on a non-contractual line churn is inferred, never observed: nobody is dropped
    assert _ids(line, line=SHOP) == ["s2", "s4", "s3"]
    summary = at_risk_summary(line, definition="subscription", line=LINE, now=NOW).execute()
    assert (summary.scored[0], summary.high[0], summary.medium[0]) == (3, 2, 0)  # s2 s4 s5


def test_default_bands_and_probability_order_without_value(line: Any) -> None:
    assert _ids(line, risk_bands=("low",)) == ["s5"]
    page = at_risk(line, AtRiskQuery(definition="subscription"), pii=False, line=LINE, now=NOW)
    assert [r.at_risk_value for r in page.rows] == [None, None]  # n/a: there is no CLV
    assert _ids(line, order="asc") == ["s4", "s2"]


def test_paging_by_value_when_no_value_is_known(line: Any) -> None:
    every = ("high", "medium", "low")
    seen: list[str] = []
    query = AtRiskQuery(definition="subscription", risk_bands=every, limit=1)
    while True:
        page = at_risk(line, query, pii=False, line=LINE, now=NOW)
        seen += [r.customer_id for r in page.rows]
        if page.next_cursor is None:
            break
        query = AtRiskQuery.from_params({**query.to_params(), "cursor": page.next_cursor})
    assert seen == ["s2", "s4", "s5"]


def test_search_by_id_or_email(line: Any) -> None:
    assert _ids(line, search="S2") == ["s2"]
    assert _ids(line, search="bob@example", pii=True) == ["s4"]
    assert _ids(line, search="bob@example") == []  # without contact rights e-mails stay hidden


def test_filters_by_reason_plan_tenure_and_country(line: Any) -> None:
    assert _ids(line, reason="payment") == ["s2"]  # a family
    assert _ids(line, reason="complaints_unresolved") == ["s4"]  # a key
    assert _ids(line, plan="gold") == ["s2"] and _ids(line, plan="SILVER") == ["s4"]
    assert _ids(line, tenure_min=100) == ["s2"]  # 152 days on June 1
    assert _ids(line, tenure_max=31) == ["s4"] and _ids(line, tenure_max=30) == []
    assert _ids(line, line=None, tenure_min=0) == ["s2", "s4"]  # s3: no acquisition date
    assert _ids(line, country="JP") == ["s4"] and _ids(line, country="kr") == ["s2"]


def test_export_leaves_out_the_same_customers(line: Any) -> None:
    query = AtRiskQuery(definition="subscription")
    export = export_at_risk(line, query, pii=False, line=LINE, now=NOW)
    assert export.total == 2
