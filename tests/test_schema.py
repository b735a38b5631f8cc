"""The canonical data model: the public contract other tools and tests rely on."""

from __future__ import annotations

import pytest

from retain.errors import NotFoundError
from retain.schema import CANONICAL_TABLES, FACT_TABLES, TABLES, get_table

# The contract (issue 4, "Canonical data model"): these names must not change.
CONTRACT = {
    "customers": [
        "customer_id",
        "acquired_at",
        "country",
        "language",
        "time_zone",
        "acquisition_channel",
        "email",
        "phone",
        "email_opt_in",
        "sms_opt_in",
    ],
    "orders": ["order_id", "customer_id", "ordered_at", "amount", "currency", "status"],
    "order_lines": ["order_id", "line_no", "product_id", "quantity", "unit_price"],
    "events": ["event_id", "customer_id", "occurred_at", "name", "channel", "properties"],
    "subscriptions": [
        "subscription_id",
        "customer_id",
        "plan",
        "started_at",
        "ended_at",
        "billing_period",
        "amount",
        "cancel_reason",
    ],
    "interactions": [
        "interaction_id",
        "customer_id",
        "occurred_at",
        "kind",
        "channel",
        "properties",
    ],
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_columns_exist(name: str) -> None:
    table = CANONICAL_TABLES[name]
    assert set(CONTRACT[name]) <= set(table.column_names)


def test_keys_are_required_columns_and_pii_is_marked() -> None:
    for table in TABLES.values():
        for key in table.key:
            assert key in table.column_names
        for ref_col, ref_table in table.references.items():
            assert ref_col in table.column_names
            assert ref_table in TABLES
    assert set(CANONICAL_TABLES["customers"].pii_columns) == {"email", "phone"}
    assert CANONICAL_TABLES["orders"].column("status").allowed == (
        "completed",
        "cancelled",
        "returned",
    )


def test_timestamps_follow_the_naming_convention() -> None:
    for table in TABLES.values():
        for col in table.columns:
            if col.kind == "timestamp":
                assert col.name.endswith("_at") or col.name == "as_of", (table.name, col.name)


def test_unknown_table_lists_the_canonical_ones() -> None:
    with pytest.raises(NotFoundError) as info:
        get_table("purchases")
    assert "customers, orders" in (info.value.hint or "")


def test_exchange_rates_are_loaded_like_the_facts_but_not_generated_as_one() -> None:
    rates = CANONICAL_TABLES["exchange_rates"]
    assert rates.required == ("currency", "reporting_currency", "valid_from", "rate")
    assert rates.key == ("currency", "reporting_currency", "valid_from")
    assert rates.column("valid_from").kind == "date"
    assert rates.column("rate").minimum is not None and rates.column("rate").minimum > 0
    assert "exchange_rates" not in FACT_TABLES
    assert set(FACT_TABLES) < set(CANONICAL_TABLES)


def test_segment_memberships_is_a_table_retain_writes() -> None:
    from retain.schema import DERIVED_TABLES

    table = DERIVED_TABLES["segment_memberships"]
    assert table.key == ("customer_id", "scheme", "as_of")
    assert table.column_names == ("customer_id", "scheme", "segment", "as_of")
    assert table.column("scheme").allowed == ("rfm", "frequency", "value_risk")
    assert "segment_memberships" not in CANONICAL_TABLES
