"""The segment builder: rules read and checked with their path, and evaluated point in time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _rule_data import JULY, JUNE_15, write_business

from retain.errors import InvalidParameterError
from retain.targeting.segments import (
    AllOf,
    Condition,
    EventCount,
    Not,
    SavedRef,
    expand,
    month_ends,
    parse_rule,
    rule_to_dict,
    segment_members,
    size_history,
)


@pytest.fixture
def business(warehouse: Any) -> Any:
    return write_business(warehouse)


def _members(con: Any, rule: dict[str, Any], as_of: Any = JULY) -> list[str]:
    table = segment_members(con, parse_rule(rule), as_of=as_of)
    return sorted(table.to_pandas()["customer_id"])


def _c(field: str, op: str, value: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"field": field, "op": op}
    if value is not None:
        out["value"] = value
    return out


# -- reading and checking ----------------------------------------------------------------------


def test_a_rule_reads_into_the_typed_model_and_back() -> None:
    data = {
        "all": [
            _c("tenure_days", ">=", 90),
            {"not": _c("country", "in", ["JP", "KR"])},
            {"event": "login", "at_least": 3, "days": 30},
            {"segment": "vip"},
            {"any": [_c("clv", "between", [1, 2.5]), _c("attributes.plan", "is_null")]},
        ]
    }
    rule = parse_rule(json.dumps(data))
    assert isinstance(rule, AllOf)
    assert rule.rules[0] == Condition("tenure_days", ">=", 90)
    assert rule.rules[1] == Not(Condition("country", "in", ("JP", "KR")))
    assert rule.rules[2] == EventCount("login", 3, 30)
    assert rule.rules[3] == SavedRef("vip")
    assert rule_to_dict(rule) == data
    assert parse_rule(rule_to_dict(rule)) == rule
    hash(rule)  # frozen and hashable: the at-risk list's page cache keys on it


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"all": [_c("country", "=", "JP"), _c("risk_band", "=", "high"), _c("tenur", ">", 3)]},
            "rule.all[2].field: unknown field 'tenur'; did you mean 'tenure_days'?",
        ),
        ({"any": [{"not": _c("clv", "between", [5, 1])}]}, "rule.any[0].not.value: between"),
        (_c("segment.rfm", "=", "loyall"), "did you mean 'loyal'?"),
        (_c("email", "=", "a@b.c"), "rule.value: email is a contact detail"),
        (_c("risk_band", ">", "high"), "rule.value: '>' does not apply to risk_band"),
        (_c("clv", "=", "100"), "rule.value: clv takes a number"),
        (_c("tenure_days", "=", 1.5), "rule.value: tenure_days takes a whole number"),
        (_c("acquired_at", "<", "yesterday"), "rule.value: acquired_at takes a date"),
        (_c("country", "in", []), "rule.value: 'in' takes a list"),
        (_c("country", "is_null", "JP"), "rule.value: 'is_null' takes no value"),
        (_c("country", "like", "J"), "rule.op: unknown comparison"),
        ({"field": "country", "op": "=", "value": "JP", "extra": 1}, "rule.extra: unknown key"),
        ({"all": []}, "rule.all: 'all' needs a list"),
        ({"all": [1]}, "rule.all[0]: a rule is a JSON object"),
        ({"field": "country", "event": "x"}, "rule: give exactly one of"),
        ({"event": "login", "at_least": 0}, "rule.at_least: a whole number from 1"),
        (_c('attributes.a"b', "=", "x"), "rule.field: 'attributes.a\"b' is not a readable"),
        (_c("attributes.n", "in", [1, "x"]), "rule.value: the values of attributes.n"),
        ("{not json", "rule: not valid JSON"),
    ],
)
def test_an_invalid_rule_is_refused_naming_its_path(data: Any, message: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_rule(data)
    assert caught.value.code == "segments.rule"
    assert message in caught.value.message


def test_deep_or_huge_rules_are_refused() -> None:
    deep: dict[str, Any] = _c("country", "=", "JP")
    for _ in range(20):
        deep = {"not": deep}
    with pytest.raises(InvalidParameterError, match="nest at most"):
        parse_rule(deep)
    with pytest.raises(InvalidParameterError, match="at most 500"):
        parse_rule({"any": [_c("country", "=", "JP")] * 600})


def test_expand_inlines_saved_segments_and_refuses_cycles_and_unknown_names() -> None:
    saved = {"a": parse_rule({"segment": "b"}), "b": parse_rule(_c("country", "=", "JP"))}
    rule = expand(parse_rule({"not": {"segment": "a"}}), saved.get)
    assert rule == Not(Condition("country", "=", "JP"))
    looped = {"a": parse_rule({"segment": "b"}), "b": parse_rule({"all": [{"segment": "a"}]})}
    with pytest.raises(InvalidParameterError, match="a -> b -> a"):
        expand(parse_rule({"segment": "a"}), looped.get)
    with pytest.raises(InvalidParameterError, match="no saved segment named 'zz'"):
        expand(parse_rule({"segment": "zz"}), saved.get)


# -- evaluating ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "want"),
    [
        (_c("tenure_days", ">=", 90), ["a1", "a3"]),
        (_c("tenure_days", "<=", 30), ["a2"]),
        (_c("tenure_days", "=", 30), ["a2"]),
        (_c("tenure_days", ">", 182), ["a3"]),
        (_c("tenure_days", "between", [100, 200]), ["a1"]),
        (_c("tenure_days", "is_null"), ["a4"]),
        (_c("country", "=", "JP"), ["a1", "a3"]),
        ({"not": _c("country", "=", "JP")}, ["a2", "a4"]),
        (_c("country", "not_in", ["JP", "US"]), ["a2"]),
        (_c("acquired_at", "<", "2024-01-01"), ["a3"]),
        (_c("email_opt_in", "=", True), ["a1"]),
        (_c("email", "is_null"), ["a2"]),
        (_c("risk_band", "=", "high"), ["a1", "a3"]),
        (
            {"all": [_c("churn_probability", ">=", 0.6), _c("clv", "between", [100, 500])]},
            ["a1", "a2"],
        ),
        (_c("at_risk_value", ">", 150), ["a1", "a2"]),
        ({"not": _c("clv", ">", 100)}, ["a3"]),
        (_c("attributes.plan", "=", "gold"), ["a1", "a3"]),
        (_c("attributes.visits", ">=", 10), ["a1"]),
        (_c("attributes.plan", "is_null"), ["a4"]),
        ({"event": "login", "at_least": 3, "days": 30}, ["a1", "a3"]),
        ({"event": "login", "days": 10}, ["a1", "a2"]),
        ({"not": {"event": "login"}}, ["a4"]),
        (_c("segment.rfm", "in", ["at_risk", "lost"]), ["a3", "a4"]),
        ({"any": [_c("country", "=", "US"), _c("segment.rfm", "=", "new")]}, ["a2", "a4"]),
        (_c("segment.frequency", "is_null"), ["a1", "a2", "a3", "a4"]),
    ],
)
def test_rules_keep_the_customers_worked_out_by_hand(
    business: Any, rule: dict[str, Any], want: list[str]
) -> None:
    assert _members(business, rule) == want


def test_scores_are_read_as_known_on_the_date(business: Any) -> None:
    assert _members(business, _c("risk_band", "=", "low"), JUNE_15) == ["a1"]
    assert _members(business, _c("risk_band", "=", "low")) == ["a4"]


def test_features_are_point_in_time(business: Any) -> None:
    import _targeting_data as data

    orders = [
        {"order_id": "o1", "customer_id": "a1", "ordered_at": "2024-02-01", "amount": 10},
        {"order_id": "o2", "customer_id": "a1", "ordered_at": "2024-06-01", "amount": 10},
        {"order_id": "o3", "customer_id": "a2", "ordered_at": "2024-06-20", "amount": 10},
        {"order_id": "o4", "customer_id": "a2", "ordered_at": "2024-07-20", "amount": 10},
    ]
    for row in orders:
        row["ordered_at"] = __import__("pandas").Timestamp(row["ordered_at"])
        row["status"] = "completed"
    data.write(business, "orders", orders)
    assert _members(business, _c("features.orders_total", ">=", 2)) == ["a1"]
    assert _members(business, _c("features.orders_total", ">=", 2), "2024-08-01") == ["a1", "a2"]


def test_an_unexpanded_saved_segment_cannot_run(business: Any) -> None:
    with pytest.raises(InvalidParameterError, match="must be expanded"):
        segment_members(business, parse_rule({"segment": "vip"}), as_of=JULY)


def test_missing_score_tables_count_as_missing_values(warehouse: Any) -> None:
    write_business(warehouse)
    warehouse.drop_table("churn_scores")
    warehouse.drop_table("events")
    assert _members(warehouse, {"not": _c("risk_band", "=", "high")}) == ["a1", "a2", "a3", "a4"]
    assert _members(warehouse, {"event": "login"}) == []


def test_size_history_evaluates_each_month_end(business: Any) -> None:
    assert [d.date().isoformat() for d in month_ends("2024-08-01", 3)] == [
        "2024-06-01",
        "2024-07-01",
        "2024-08-01",
    ]
    assert month_ends("2024-08-15", 2)[-1].date().isoformat() == "2024-08-15"
    sizes = size_history(business, parse_rule(_c("country", "=", "JP")), end="2024-09-01", months=4)
    # a3 from 2023-07, a1 from 2024-01, a5 acquired 2024-08-01 counts from 2024-09-01.
    assert sizes["customers"].tolist() == [2, 2, 2, 3]
    assert [d.date().isoformat() for d in sizes["as_of"]] == [
        "2024-06-01",
        "2024-07-01",
        "2024-08-01",
        "2024-09-01",
    ]


def test_expand_refuses_a_diamond_of_references_before_it_grows() -> None:
    """Each saved segment names the next one twice: twenty levels would expand to a million
    conditions; the expansion stops at MAX_NODES with the rule's own size error."""
    levels = 20
    saved = {
        f"s{i}": parse_rule({"any": [{"segment": f"s{i + 1}"}, {"segment": f"s{i + 1}"}]})
        for i in range(levels)
    }
    saved[f"s{levels}"] = parse_rule({"field": "country", "op": "=", "value": "JP"})
    with pytest.raises(InvalidParameterError, match="at most"):
        expand(parse_rule({"segment": "s0"}), saved.get)
    small = expand(parse_rule({"segment": f"s{levels - 3}"}), saved.get)  # 15 nodes: fine
    assert small is not None
