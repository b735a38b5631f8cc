"""Currencies are never added silently: converted with loaded rates, or refused by name.

Orders in JPY and USD (and rows without a currency, read as the configured USD) are summed by
the facts every metric and model reads. Without rates the error names both currencies and their
row counts; with rates each sum equals the hand computation below, on DuckDB and PostgreSQL;
single-currency data comes back as the very same expression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.errors import DataValidationError
from retain.facts import (
    completed_orders,
    currency_code,
    currency_counts,
    in_reporting_currency,
    net_revenue,
)
from retain.i18n import language, t
from retain.ingest import ingest
from retain.metrics import cohort_retention, period_metrics
from retain.models.clv import rfm_summary

ORDERS = [
    # order, customer, day, amount, currency, status
    ("o1", "a", "2024-01-10", 10.0, "USD", "completed"),
    ("o2", "a", "2024-01-15", 1000.0, "JPY", "completed"),  # before the first rate: earliest
    ("o3", "b", "2024-02-05", 2000.0, "JPY", "completed"),  # 2024-02-01 rate
    ("o4", "b", "2024-02-20", 500.0, "JPY", "returned"),  # a return: -500 JPY
    ("o5", "c", "2024-03-02", 3000.0, "jpy", None),  # lower case, no status: completed
    ("o6", "c", "2024-03-03", 7.0, None, "completed"),  # no currency: the configured USD
    ("o7", "d", "2024-03-04", 9000.0, "JPY", "cancelled"),  # never a sale
]
RATES = [
    # currency, reporting currency, valid from, rate
    ("JPY", "USD", "2024-01-20", 0.0070),
    ("JPY", "USD", "2024-02-01", 0.0068),
    ("JPY", "USD", "2024-03-01", 0.0066),
    ("JPY", "EUR", "2024-01-01", 0.0062),  # into another currency: not used for USD
]
# completed and returned amounts in USD, by hand
HAND = {
    "o1": 10.0,
    "o2": 1000.0 * 0.0070,
    "o3": 2000.0 * 0.0068,
    "o4": -500.0 * 0.0068,
    "o5": 3000.0 * 0.0066,
    "o6": 7.0,
}


def orders_frame(rows: list[tuple[Any, ...]] = ORDERS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "ordered_at": pd.to_datetime([r[2] for r in rows]).astype("datetime64[us]"),
            "amount": [r[3] for r in rows],
            "currency": [r[4] for r in rows],
            "status": [r[5] for r in rows],
        }
    )


def rates_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "currency": [r[0] for r in RATES],
            "reporting_currency": [r[1] for r in RATES],
            "valid_from": pd.to_datetime([r[2] for r in RATES]).date,
            "rate": [r[3] for r in RATES],
        }
    )


def test_mixed_currencies_without_rates_name_every_currency_and_count() -> None:
    orders = ibis.memtable(orders_frame())
    with pytest.raises(DataValidationError) as info:
        net_revenue(orders)
    message, hint = str(info.value), info.value.hint or ""
    assert "JPY: 4 rows" in message  # o2-o5: the cancelled o7 is not a sale
    assert "USD: 1 rows" in message
    assert "no currency (read as USD): 1 rows" in message
    assert "JPY" in message.split("converts", 1)[1]
    assert "retain ingest exchange_rates FILE" in hint
    assert "currency in retain.toml" in hint
    assert info.value.code == "data.mixed_currencies"
    assert [v.value for v in info.value.violations] == ["JPY"]
    with pytest.raises(DataValidationError, match="JPY"):
        completed_orders(orders)


def test_rates_into_another_currency_do_not_count_as_rates() -> None:
    orders = ibis.memtable(orders_frame())
    eur_only = ibis.memtable(rates_frame().query("reporting_currency == 'EUR'"))
    with pytest.raises(DataValidationError, match="JPY"):
        net_revenue(orders, rates=eur_only)


def test_converted_sums_equal_the_hand_computation() -> None:
    orders = ibis.memtable(orders_frame())
    rates = ibis.memtable(rates_frame())
    got = net_revenue(orders, rates=rates).to_pandas()
    by_day = dict(zip(got["ordered_at"].dt.strftime("%m-%d"), got["revenue"], strict=True))
    days = {r[0]: r[2][5:] for r in ORDERS}
    assert by_day == pytest.approx({days[o]: v for o, v in HAND.items()})
    done = completed_orders(orders, rates=rates).to_pandas().set_index("order_id")
    assert set(done["currency"]) == {"USD"}
    completed = {o: v for o, v in HAND.items() if v > 0}
    assert done["amount"].to_dict() == pytest.approx(completed)


def test_another_reporting_currency_converts_the_configured_ones() -> None:
    rows = [r for r in ORDERS if r[4] == "JPY"]
    orders = ibis.memtable(orders_frame(rows))
    rates = ibis.memtable(rates_frame())
    got = net_revenue(orders, currency="eur", rates=rates).to_pandas()
    assert got["revenue"].sum() == pytest.approx((1000 + 2000 - 500) * 0.0062)


def test_single_currency_is_the_same_expression() -> None:
    rows = [(*r[:4], c, r[5]) for r, c in zip(ORDERS, ["USD", None] * 4, strict=False)]
    orders = ibis.memtable(orders_frame(rows))
    assert in_reporting_currency(orders, name="orders", date="ordered_at") is orders
    assert currency_counts(orders) == {"USD": 4, None: 3}
    without = ibis.memtable(orders_frame(rows).drop(columns="currency"))
    assert in_reporting_currency(without, name="orders", date="ordered_at") is without
    a = net_revenue(orders).to_pandas().sort_values("ordered_at", ignore_index=True)
    b = net_revenue(without).to_pandas().sort_values("ordered_at", ignore_index=True)
    pd.testing.assert_frame_equal(a, b)


def test_messages_in_japanese_and_korean() -> None:
    orders = ibis.memtable(orders_frame())
    for lang, word in (("ja", "為替レート"), ("ko", "환율")):
        with language(lang), pytest.raises(DataValidationError) as info:
            net_revenue(orders)
        assert word in str(info.value) and "JPY" in str(info.value)
        assert "retain ingest exchange_rates" in (info.value.hint or "")
    assert "{" not in t("facts.currency_rows_empty", lang="ko", currency="USD", rows=1)


def write(con: Any, name: str, frame: pd.DataFrame) -> None:
    if wh.backend_name(con) == "pyspark":  # a plain create: Spark renames are slow
        con.create_table(name, frame, overwrite=True)
    else:
        wh.write_table(con, name, frame)


def check_engine(con: Any) -> None:
    """Stored rates are found beside the orders; period revenue equals the hand sums."""
    write(con, "orders", orders_frame())
    orders = wh.read_table(con, "orders")
    with pytest.raises(DataValidationError, match="JPY"):
        period_metrics(orders, period="month")
    write(con, "exchange_rates", rates_frame())
    months = period_metrics(wh.read_table(con, "orders"), period="month").to_pandas()
    got = dict(zip(months["period_start"].dt.month, months["revenue"], strict=True))
    month_of = {r[0]: int(r[2][5:7]) for r in ORDERS}
    want: dict[int, float] = {}
    for order, value in HAND.items():
        want[month_of[order]] = want.get(month_of[order], 0.0) + value
    assert got == pytest.approx(want)
    # cohort revenue and the lifetime-value summary read the same converted amounts
    orders = wh.read_table(con, "orders")
    cohorts = cohort_retention(orders, kind="revenue").to_pandas()
    assert float(cohorts["value"].sum()) == pytest.approx(sum(HAND.values()))
    rfm = rfm_summary(orders, as_of="2024-03-31", time_unit="day").to_pandas()
    spend = rfm.set_index("customer_id")["monetary_value"]
    assert spend["a"] == pytest.approx(1000.0 * 0.0070)  # a's repeat purchase, in USD


def test_engine_duckdb() -> None:
    con = wh.connect("duckdb://")
    try:
        check_engine(con)
    finally:
        con.disconnect()


@pytest.mark.spark
def test_engine_pyspark(spark_warehouse: Any) -> None:
    check_engine(spark_warehouse)


@pytest.mark.postgres
def test_engine_postgres(postgres_url: str) -> None:
    con = wh.connect(postgres_url)
    try:
        check_engine(con)
    finally:
        con.disconnect()


def test_ingest_exchange_rates_rejects_bad_rows(warehouse: Any, tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(
        "currency,reporting_currency,valid_from,rate\n"
        "JPY,USD,2024-01-20,0.0070\n"
        "JPY,USD,2024-02-01,-1\n"
        "KRW,USD,not a date,0.00075\n"
        "KRW,USD,2024-01-01,0.00075\n"
    )
    report = ingest("exchange_rates", path, con=warehouse, on_error="quarantine")
    assert report.rows_inserted == 2
    assert report.rows_rejected == 2
    stored = wh.read_table(warehouse, "exchange_rates").to_pandas()
    assert sorted(stored["currency"]) == ["JPY", "KRW"]


def test_currency_code_is_public_and_trims_upper_cases_and_empties() -> None:
    """Other layers (subscriber values) compare codes with the same rule as the sums do."""
    codes = ibis.memtable({"currency": [" usd", "", "Jpy ", None]})
    out = codes.select(code=currency_code(codes.currency)).to_pandas()["code"]
    assert list(out.where(out.notna(), None)) == ["USD", None, "JPY", None]
