"""Point-in-time churn features: hand-computed values, no look-ahead, broken input, engines."""

from __future__ import annotations

import math
from typing import Any

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError, MissingColumnError
from retain.features import FEATURES, feature_snapshot

AS_OF = "2024-04-01"
ANY = ChurnDefinition(activity="any")


def _snap(tables: dict[str, pd.DataFrame], definition: ChurnDefinition = ANY) -> pd.DataFrame:
    return (
        feature_snapshot(tables, as_of=AS_OF, definition=definition)
        .to_pandas()
        .set_index("customer_id")
    )


def test_columns_are_the_catalog_in_order(business: dict[str, pd.DataFrame]) -> None:
    snap = feature_snapshot(business, as_of=AS_OF, definition=ANY)
    assert list(snap.columns) == ["customer_id", *(f.name for f in FEATURES)]


def test_hand_computed_values(business: dict[str, pd.DataFrame]) -> None:
    s = _snap(business)
    # d is acquired after as_of: not in the population.
    assert list(s.index) == ["a", "b", "c"]
    a, b, c = s.loc["a"], s.loc["b"], s.loc["c"]
    # a: orders 2023-12-15 (10), 2024-01-05 (20, discount 5), 2024-03-01 (30); o6 is after as_of.
    assert a.orders_total == 3 and a.orders_90d == 2 and a.orders_prev_90d == 1
    assert a.orders_change_pct == pytest.approx(100.0)
    assert a.days_since_last_order == pytest.approx(31.0)
    assert a.mean_days_between_orders == pytest.approx(77 / 2)
    assert a.revenue_total == pytest.approx(60.0)
    assert a.discount_share == pytest.approx(5 / 65)
    # a's baskets: 3, 1 and 3 units (o3 nets a returned unit); o6's 9 units are after as_of.
    assert a.units_per_order == pytest.approx(7 / 3)
    assert a.units_90d == 4 and a.largest_order_units == 3
    # a complained twice (T1 resolved 2 days later, T2 open since 2024-03-10 = 22 days).
    assert a.complaints_total == 2 and a.complaints_unresolved == 1 and a.tickets_open == 1
    assert a.oldest_open_ticket_days == pytest.approx(22.0)
    assert a.mean_days_to_resolve == pytest.approx(2.0)
    assert a.survey_last_score == 3
    # a was never messaged: days since contact is its tenure (acquired 2023-12-01).
    assert a.days_since_contact == pytest.approx(122.0) == a.tenure_days
    # b: logins fell from 3 (Nov-Dec, all before 2024-01-02) to 1 in the last 90 days.
    assert b.events_prev_90d == 3 and b.events_90d == 1
    assert b.events_change_pct == pytest.approx(-200 / 3)
    assert b.app_events_change_pct == pytest.approx(-50.0)
    assert b.payment_failures_90d == 1 and b.days_since_payment_failure == pytest.approx(12.0)
    assert b.cancel_page_views_30d == 1
    # the failure (2024-03-20) is inside the 60 days a failure weighs; the page visit 7 days ago.
    assert b.payment_failures_60d == 1
    assert b.days_since_cancel_page_view == pytest.approx(7.0)
    # b's only recent login (2024-02-10) is 51 days back: none in the last 30 days.
    assert b.events_30d == 0 and b.events_30d_change_pct == pytest.approx(-100.0)
    assert b.days_since_contact == pytest.approx(183.0)
    assert b.survey_score_change == pytest.approx(5 - 9)
    assert b.plan == "pro" and b.active_subscriptions == 1 and b.subscriptions_ended == 1
    # b's contract end (2024-06-01) is two monthly periods ahead: a later renewal's end, rolled
    # back by whole months to the first end at or after as_of, which is as_of itself (the term
    # ends today). The billing period that starts at as_of (monthly since 2023-09-01) ends on
    # 2024-05-01.
    assert b.days_to_contract_end == pytest.approx(0.0)
    assert b.days_to_renewal == pytest.approx(30.0)
    assert b.subscription_tenure_days == pytest.approx(213.0)
    assert b.country == "KR" and b.email_opt_in == 0
    # c: one order in Feb 2023, nothing since.
    assert c.days_since_last_order == pytest.approx(425.0) and c.tenure_days == pytest.approx(456.0)
    assert math.isnan(c.days_since_last_event)
    # c's order has no lines: no basket to average, and no units in the last 90 days.
    assert math.isnan(c.units_per_order) and math.isnan(c.largest_order_units)
    assert c.units_90d == 0
    assert b.units_per_order == 5 and b.units_90d == 5 and b.largest_order_units == 5


def _future_rows(tables: dict[str, pd.DataFrame], when: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The same business plus a burst of activity of every kind at ``when`` (>= as_of)."""
    out = {k: v.copy() for k, v in tables.items()}
    extra = {
        "orders": {
            "order_id": "f1",
            "customer_id": "c",
            "ordered_at": when,
            "amount": 99.0,
            "status": "completed",
            "discount_amount": 50.0,
            "channel": "web",
        },
        "events": {
            "event_id": "f2",
            "customer_id": "a",
            "occurred_at": when,
            "name": "payment_failed",
            "channel": "app",
        },
        "interactions": {
            "interaction_id": "f3",
            "customer_id": "c",
            "occurred_at": when,
            "kind": "complaint",
            "channel": "phone",
            "properties": "{}",
        },
        "subscriptions": {
            "subscription_id": "f4",
            "customer_id": "a",
            "plan": "pro",
            "started_at": when,
            "ended_at": None,
            "billing_period": "year",
            "amount": 100.0,
            "contract_ends_at": None,
        },
    }
    # The new order's lines, and one more line on a's order o6, placed after as_of.
    lines = [
        {"order_id": "f1", "line_no": 1, "product_id": "p9", "quantity": 40, "unit_price": 2.5},
        {"order_id": "o6", "line_no": 2, "product_id": "p9", "quantity": 7, "unit_price": 1.0},
    ]
    out["order_lines"] = pd.concat([out["order_lines"], pd.DataFrame(lines)], ignore_index=True)
    for name, row in extra.items():
        out[name] = pd.concat([out[name], pd.DataFrame([row])], ignore_index=True)
    # T2 gets resolved and b's subscription ends, both after as_of.
    out["interactions"].loc[len(out["interactions"])] = {
        "interaction_id": "f5",
        "customer_id": "a",
        "occurred_at": when,
        "kind": "ticket_resolved",
        "channel": "chat",
        "properties": '{"ticket_id": "T2"}',
    }
    return out


def test_data_after_as_of_changes_no_feature(business: dict[str, pd.DataFrame]) -> None:
    before = _snap(business)
    after = _snap(_future_rows(business, pd.Timestamp(AS_OF)))
    pd.testing.assert_frame_equal(before, after)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(minutes=st.integers(min_value=0, max_value=60 * 24 * 400))
def test_data_after_as_of_changes_no_feature_property(minutes: int, make_business: Any) -> None:
    tables = make_business()
    when = pd.Timestamp(AS_OF) + pd.Timedelta(minutes=minutes)
    pd.testing.assert_frame_equal(_snap(tables), _snap(_future_rows(tables, when)))


def test_data_just_before_as_of_does_change_features(business: dict[str, pd.DataFrame]) -> None:
    """The invariance above is not vacuous: the same burst one minute earlier is seen."""
    before = _snap(business)
    after = _snap(_future_rows(business, pd.Timestamp(AS_OF) - pd.Timedelta(minutes=1)))
    assert after.loc["c", "orders_total"] == before.loc["c", "orders_total"] + 1
    assert after.loc["c", "units_90d"] == 40 and after.loc["c", "largest_order_units"] == 40
    assert after.loc["a", "payment_failures_90d"] == 1
    assert after.loc["a", "tickets_open"] == 0


def test_missing_tables_give_null_features(business: dict[str, pd.DataFrame]) -> None:
    s = _snap({"orders": business["orders"]}, ChurnDefinition())
    assert s["events_90d"].isna().all() and s["country"].isna().all()
    assert s.loc["a", "orders_total"] == 3


def test_contractual_population_is_active_subscribers(business: dict[str, pd.DataFrame]) -> None:
    s = _snap(business, ChurnDefinition(kind="contractual"))
    assert list(s.index) == ["b"]


def test_missing_required_column_names_table_and_column(business: dict[str, pd.DataFrame]) -> None:
    broken = dict(business, orders=business["orders"].drop(columns=["ordered_at"]))
    with pytest.raises(MissingColumnError) as info:
        feature_snapshot(broken, as_of=AS_OF, definition=ANY)
    v = info.value.violations[0]
    assert (v.file, v.column, v.rule) == ("orders", "ordered_at", "missing_column")
    assert "retain ingest orders" in (info.value.hint or "")


def test_no_activity_table_is_a_clear_error(business: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(MissingColumnError, match="none of orders, events or subscriptions"):
        feature_snapshot({"customers": business["customers"]}, as_of=AS_OF, definition=ANY)
    with pytest.raises(MissingColumnError, match="no subscriptions table"):
        feature_snapshot(
            {"orders": business["orders"]},
            as_of=AS_OF,
            definition=ChurnDefinition(kind="contractual"),
        )


def test_bad_as_of_is_rejected(business: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(InvalidParameterError, match="as_of must be a date"):
        feature_snapshot(business, as_of="last tuesday", definition=ANY)
    with pytest.raises(InvalidParameterError, match="expected a warehouse connection"):
        feature_snapshot([1, 2], as_of=AS_OF, definition=ANY)


def test_same_features_on_every_engine(engine: object, business: dict[str, pd.DataFrame]) -> None:
    """The snapshot is one Ibis expression: DuckDB and PySpark give identical rows."""
    for name, frame in business.items():
        wh.write_table(engine, name, frame)
    got = _snap_con(engine)
    want = _snap(business)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9)


def _snap_con(con: object) -> pd.DataFrame:
    frame = feature_snapshot(con, as_of=AS_OF, definition=ANY).to_pandas()
    return frame.set_index("customer_id")


def test_money_features_are_in_the_reporting_currency(business: dict[str, pd.DataFrame]) -> None:
    """A JPY order counts in USD at the loaded rate; without a rate the snapshot is refused."""
    from retain.errors import DataValidationError

    orders = business["orders"].copy()
    orders["currency"] = "USD"
    a = orders["customer_id"] == "a"
    first = orders.index[a][0]  # a's 10 USD order becomes 1,000 JPY
    orders.loc[first, ["amount", "currency"]] = [1000.0, "JPY"]
    tables = {**business, "orders": orders}
    con = wh.connect("duckdb://")
    try:
        for name, frame in tables.items():
            wh.write_table(con, name, frame)
        with pytest.raises(DataValidationError, match="JPY"):
            feature_snapshot(con, as_of=AS_OF, definition=ANY).to_pandas()
        rates = pd.DataFrame(
            {
                "currency": ["JPY"],
                "reporting_currency": ["USD"],
                "valid_from": pd.to_datetime(["2023-01-01"]).date,
                "rate": [0.01],
            }
        )
        wh.write_table(con, "exchange_rates", rates)
        s = feature_snapshot(con, as_of=AS_OF, definition=ANY).to_pandas()
    finally:
        con.disconnect()
    revenue = s.set_index("customer_id")["revenue_total"]
    assert revenue["a"] == pytest.approx(60.0)  # 1,000 JPY x 0.01 + 20 + 30


def test_no_currency_column_means_no_currency_query(
    business: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data without a currency column is all in the reporting currency: building the snapshot
    asks the engine nothing (the check queried orders twice and subscriptions once per build),
    and gives the values it gave with the check."""
    import retain.facts.money as money
    from retain.features.sources import Sources

    assert all("currency" not in frame.columns for frame in business.values())
    con = wh.connect("duckdb://")
    try:
        for name, frame in business.items():
            wh.write_table(con, name, frame)
        checked = feature_snapshot(con, as_of=AS_OF, definition=ANY).to_pandas()
        sources = Sources.of(con)
        assert "currency" in sources.filled["orders"] and "currency" in sources.orders.columns
        assert "currency" not in sources.for_amounts("orders").columns  # type: ignore[union-attr]
        asked: list[str] = []

        def present(table: Any) -> set[str | None]:
            asked.append(str(table))
            return {None}

        monkeypatch.setattr(money, "_present_codes", present)
        expr = feature_snapshot(con, as_of=AS_OF, definition=ANY)
        assert asked == []
        pd.testing.assert_frame_equal(expr.to_pandas(), checked)
        # A currency column of the data's own is still checked (orders twice: the population
        # and the order features; subscriptions once).
        orders = business["orders"].assign(currency="USD")
        wh.write_table(con, "orders", orders, mode="replace")
        sources = Sources.of(con)
        assert "currency" not in sources.filled["orders"]
        assert "currency" in sources.for_amounts("orders").columns  # type: ignore[union-attr]
        feature_snapshot(sources, as_of=AS_OF, definition=ANY)
        assert len(asked) == 2
    finally:
        con.disconnect()
