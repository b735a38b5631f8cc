"""The at-risk list on a small DuckDB warehouse: latest scores only, filters, order, contact
details only when allowed, and cursor paging that visits every row exactly once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from retain.errors import InvalidParameterError
from retain.targeting import AtRiskQuery, at_risk


def _ids(con: Any, **fields: Any) -> list[str]:
    page = at_risk(con, AtRiskQuery(definition="default", **fields), pii=False)
    return [r.customer_id for r in page.rows]


def test_default_is_high_and_medium_highest_value_at_risk_first(scored: Any) -> None:
    page = at_risk(scored, AtRiskQuery(definition="default"), pii=False, lang="en")
    assert [r.customer_id for r in page.rows] == ["a2", "a1", "a3", "a5"]  # a4 is low
    assert page.total == 4 and page.next_cursor is None and page.definition == "default"
    assert page.as_of == dt.datetime(2024, 6, 30)
    a1 = page.rows[1]
    assert (a1.probability, a1.clv, a1.risk_band, a1.country) == (0.9, 200.0, "high", "JP")
    assert a1.as_of == dt.datetime(2024, 6, 30) and a1.model_version == "2"
    assert a1.reasons[0]["key"] == "reasons.payment_failed" and "5 days" in a1.reasons[0]["text"]
    a5 = page.rows[-1]
    assert a5.clv is None and a5.currency is None and a5.at_risk_value is None  # n/a, not 0
    assert page.rows[2].reasons == []  # a3's reasons are not JSON: no reasons, still listed
    every = AtRiskQuery(definition="default", risk_bands=("high", "medium", "low"))
    assert [r.customer_id for r in at_risk(scored, every, pii=False).rows] == [
        "a2",
        "a1",
        "a4",
        "a3",
        "a5",
    ]


def test_contact_details_only_with_pii(scored: Any) -> None:
    query = AtRiskQuery(definition="default", limit=1)
    assert at_risk(scored, query, pii=True).rows[0].email == "a2@x.org"
    assert at_risk(scored, query, pii=False).rows[0].email is None


def test_filters(scored: Any) -> None:
    assert _ids(scored, risk_bands=("high",)) == ["a1", "a3", "a5"]
    assert _ids(scored, clv_min=100, clv_max=400, sort="clv") == ["a2", "a1"]
    assert _ids(scored, country="JP", sort="customer_id", order="asc") == ["a1", "a3", "a5"]
    assert _ids(scored, channel="store", sort="probability") == ["a3", "a2"]
    assert _ids(scored, risk_bands=("medium", "low"), order="asc") == ["a4", "a2"]


def test_other_definition(scored: Any) -> None:
    assert at_risk(scored, AtRiskQuery(definition="subscription"), pii=False).rows == []  # low
    query = AtRiskQuery(definition="subscription", risk_bands=("low",))
    page = at_risk(scored, query, pii=False)
    assert [(r.customer_id, r.probability) for r in page.rows] == [("a1", 0.05)]


def test_missing_clv_and_customer_tables(scored: Any) -> None:
    only = frozenset({"churn_scores"})
    page = at_risk(scored, AtRiskQuery(definition="default"), pii=True, tables=only)
    assert {r.clv for r in page.rows} == {None} and {r.country for r in page.rows} == {None}
    assert {r.at_risk_value for r in page.rows} == {None}
    # no value anywhere: the list runs by probability (a1 .9, a5 .7... ), not by customer id
    assert [r.customer_id for r in page.rows] == ["a1", "a3", "a5", "a2"]


@pytest.mark.parametrize("sort", ["at_risk_value", "probability", "clv", "customer_id"])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_cursor_paging_visits_every_row_once(scored: Any, sort: str, order: str) -> None:
    every = ("high", "medium", "low")
    query = AtRiskQuery(definition="default", risk_bands=every, sort=sort, order=order)
    full = at_risk(scored, query, pii=False)
    seen: list[str] = []
    query = AtRiskQuery(definition="default", risk_bands=every, sort=sort, order=order, limit=2)
    pages = 0
    while True:
        page = at_risk(scored, query, pii=False)
        pages += 1
        assert page.total == 5
        seen += [r.customer_id for r in page.rows]
        if page.next_cursor is None:
            break
        query = AtRiskQuery.from_params({**query.to_params(), "cursor": page.next_cursor})
    assert seen == [r.customer_id for r in full.rows]
    assert pages == 3


def test_a_query_must_be_ready_to_run(scored: Any) -> None:
    with pytest.raises(InvalidParameterError) as err:
        at_risk(scored, AtRiskQuery(), pii=False)
    assert err.value.code == "parameter.definition"
    with pytest.raises(InvalidParameterError) as err:
        at_risk(scored, AtRiskQuery(definition="default", segment="JP"), pii=False)
    assert err.value.code == "parameter.segment" and "'JP'" in err.value.message
