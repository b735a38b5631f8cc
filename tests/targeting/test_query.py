"""AtRiskQuery: every way of asking (request parameters, a saved segment's stored filter) turns
into one checked object and back; bad values are refused with an error naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from retain.errors import InvalidParameterError
from retain.targeting import AtRiskQuery
from retain.targeting._cursor import encode_cursor


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({"risk_band": ["high", "hot"]}, "parameter.risk_band", "risk_band must be one of"),
        ({"sort": "name"}, "parameter.sort", "sort must be one of"),
        ({"order": "up"}, "parameter.order", "order must be one of asc, desc"),
        ({"clv_min": "lots"}, "parameter.clv_min", "clv_min must be a number; got 'lots'"),
        ({"clv_max": "inf"}, "parameter.clv_max", "clv_max must be from"),
        ({"clv_min": 300, "clv_max": 100}, "parameter.clv_range", "clv_min (300.0) is larger"),
        ({"limit": "ten"}, "parameter.limit", "limit must be a whole number"),
        ({"limit": 0}, "parameter.limit", "limit must be from 1 to"),
        ({"limit": 501}, "parameter.limit", "limit 501 is above the maximum page size 500"),
        ({"country": "x" * 101}, "parameter.country", "country must have at most 100"),
        ({"cursor": "not-a-cursor"}, "parameter.cursor", "cursor is not one this service"),
        ({"reason": "astrology"}, "parameter.reason", "reason must be a reason family"),
        ({"tenure_min": "-3"}, "parameter.tenure_min", "tenure_min must be a whole number"),
        ({"tenure_max": 10**6}, "parameter.tenure_max", "tenure_max must be from 0 to"),
        ({"tenure_min": 90, "tenure_max": 30}, "parameter.tenure_range", "tenure_min (90)"),
        ({"search": "x" * 201}, "parameter.search", "search must have at most 200"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    params: dict[str, Any], code: str, words: str
) -> None:
    with pytest.raises(InvalidParameterError) as err:
        AtRiskQuery.from_params(params, max_limit=500)
    assert err.value.code == code
    assert words in err.value.message


def test_typed_construction_is_checked_too() -> None:
    with pytest.raises(InvalidParameterError, match="risk_band"):
        AtRiskQuery(risk_bands=("severe",))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="country must be text"):
        AtRiskQuery(country=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="clv_min must be a number"):
        AtRiskQuery(clv_min=True)


def test_a_cursor_of_another_sort_is_refused() -> None:
    by_value = encode_cursor(12.5, "c1")
    assert AtRiskQuery(sort="probability", cursor=by_value).after() == (12.5, "c1", None)
    by_clv = encode_cursor(12.5, "c1", 0.5)  # ties in CLV are broken by probability
    assert AtRiskQuery(sort="clv", cursor=by_clv).after() == (12.5, "c1", 0.5)
    for sort, cursor in (("customer_id", by_value), ("clv", by_value), ("probability", by_clv)):
        with pytest.raises(InvalidParameterError) as err:
            AtRiskQuery(sort=sort, cursor=cursor)  # type: ignore[arg-type]
        assert err.value.code == "parameter.cursor"
    with pytest.raises(InvalidParameterError) as err:
        AtRiskQuery(sort="customer_id", cursor=by_value)
    assert err.value.code == "parameter.cursor" and err.value.hint


def test_params_round_trip() -> None:
    params = {
        "definition": "subscription",
        "segment": "JP VIP",
        "risk_band": ["high", "medium"],
        "clv_min": 100.0,
        "clv_max": 300.0,
        "country": "JP",
        "channel": "search",
        "sort": "probability",
        "order": "asc",
        "limit": 20,
        "cursor": encode_cursor(0.5, "c9"),
    }
    query = AtRiskQuery.from_params(params)
    assert query.to_params() == params
    assert AtRiskQuery.from_params(query.to_params()) == query


def test_form_text_blanks_and_repeated_bands() -> None:
    pairs = [
        ("risk_band", "high"),
        ("risk_band", ""),
        ("risk_band", "low"),
        ("risk_band", "high"),
        ("clv_min", " 50 "),
        ("clv_max", ""),
        ("country", "  "),
        ("limit", "25"),
        ("lang", "ja"),
    ]
    query = AtRiskQuery.from_params(pairs, default_definition="default")
    assert query == AtRiskQuery(
        definition="default", risk_bands=("high", "low"), clv_min=50.0, limit=25
    )
    assert query.to_params() == {
        "definition": "default",
        "risk_band": ["high", "low"],
        "clv_min": 50.0,
        "limit": 25,
    }


def test_a_given_definition_beats_the_default() -> None:
    query = AtRiskQuery.from_params({"definition": "b2b"}, default_definition="default")
    assert query.definition == "b2b"


def test_every_field_for_a_form() -> None:
    shown = AtRiskQuery().to_params(defaults=True)
    assert shown["risk_band"] == [] and shown["sort"] == "at_risk_value"
    assert AtRiskQuery().bands == ("high", "medium")  # what the list keeps when none is asked
    assert shown["search"] is None and shown["tenure_min"] is None
    assert shown["order"] == "desc" and shown["clv_min"] is None and shown["segment"] is None


def test_stored_dict_round_trip_and_segments_saved_before() -> None:
    stored = {"risk_bands": ["high"], "clv_min": 200, "country": "JP"}  # as saved segments were
    query = AtRiskQuery.from_dict(stored)
    assert query.risk_bands == ("high",) and query.clv_min == 200.0
    assert query.to_dict() == {"risk_bands": ["high"], "clv_min": 200.0, "country": "JP"}
    assert AtRiskQuery.from_dict(query.to_dict()) == query
    assert AtRiskQuery.from_dict({"risk_bands": [], "clv_max": None}) == AtRiskQuery()


def test_stored_dict_with_an_unknown_key_is_refused() -> None:
    with pytest.raises(InvalidParameterError) as err:
        AtRiskQuery.from_dict({"colour": "red"})
    assert err.value.code == "parameter.colour" and "'colour'" in err.value.message


def test_filters_keep_only_what_chooses_customers() -> None:
    query = AtRiskQuery(
        definition="default", segment="x", risk_bands=("low",), country="KR", limit=5
    )
    assert query.filters().to_dict() == {"risk_bands": ["low"], "country": "KR"}


def test_a_segment_fills_what_the_request_leaves_unset() -> None:
    asked = AtRiskQuery(definition="default", segment="JP", risk_bands=("medium",), limit=5)
    saved = AtRiskQuery(risk_bands=("high",), clv_min=200.0, country="JP")
    narrowed = asked.narrowed_by(saved)
    assert narrowed == AtRiskQuery(
        definition="default", risk_bands=("medium",), clv_min=200.0, country="JP", limit=5
    )
    assert narrowed.segment is None


def test_reasons_by_family_or_key() -> None:
    from retain.targeting.query import reason_keys

    assert reason_keys("payment_failed") == reason_keys("reasons.payment_failed")
    assert reason_keys("payment_failed") == ("reasons.payment_failed",)
    assert "reasons.complaints_unresolved" in reason_keys("complaints")
    assert AtRiskQuery.from_params({"reason": "complaints"}).reason == "complaints"


def test_new_filters_round_trip_and_a_segment_fills_them() -> None:
    query = AtRiskQuery.from_params(
        {"search": " Bob@X ", "reason": "payment", "plan": "gold", "tenure_min": "30"}
    )
    assert (query.search, query.tenure_min) == ("Bob@X", 30)
    assert AtRiskQuery.from_params(query.to_params()) == query
    saved = AtRiskQuery.from_dict({"plan": "gold", "tenure_max": 365, "reason": "payment"})
    narrowed = AtRiskQuery(plan="silver").narrowed_by(saved)
    assert (narrowed.plan, narrowed.tenure_max, narrowed.reason) == ("silver", 365, "payment")
    assert "search" not in AtRiskQuery(search="x").filters().to_dict()  # a search is not saved
