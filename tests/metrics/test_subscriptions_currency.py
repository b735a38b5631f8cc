"""MRR sums prices in the reporting currency: JPY plans converted at their start, or refused."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest
from metric_tables import load

from retain.errors import DataValidationError
from retain.metrics import mrr_movements


def subscriptions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subscription_id": ["1", "2", "3"],
            "customer_id": ["a", "b", "c"],
            "plan": ["basic", "basic", "annual"],
            "started_at": pd.to_datetime(["2024-01-10", "2024-01-12", "2024-02-03"]),
            "ended_at": pd.to_datetime([None, None, None]),
            "billing_period": ["month", "month", "year"],
            "amount": [10.0, 1500.0, 12000.0],
            "currency": [None, "JPY", "JPY"],
        }
    )


def rates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "currency": ["JPY", "JPY"],
            "reporting_currency": ["USD", "USD"],
            "valid_from": pd.to_datetime(["2024-01-01", "2024-02-01"]).date,
            "rate": [0.0070, 0.0068],
        }
    )


def test_mixed_currencies_without_rates_are_refused(duck: Any) -> None:
    with pytest.raises(DataValidationError) as info:
        mrr_movements(load(duck, "subscriptions", subscriptions()))
    assert "subscriptions" in str(info.value)
    assert "JPY: 2 rows" in str(info.value)
    assert "no currency (read as USD): 1 rows" in str(info.value)
    assert "exchange_rates" in (info.value.hint or "")


def test_prices_convert_at_the_rate_of_their_start(duck: Any) -> None:
    subs = load(duck, "subscriptions", subscriptions())
    load(duck, "exchange_rates", rates())  # found beside the subscriptions
    got = mrr_movements(subs).to_pandas()
    jan = 10.0 + 1500.0 * 0.0070
    feb = jan + 12000.0 / 12 * 0.0068  # the annual plan started under February's rate
    assert got.mrr.tolist() == pytest.approx([jan, feb])
    assert got.new_mrr.tolist() == pytest.approx([jan, feb - jan])
    explicit = mrr_movements(subs, rates=ibis.memtable(rates())).to_pandas()
    pd.testing.assert_frame_equal(got, explicit)


def test_one_currency_is_untouched(duck: Any) -> None:
    frame = subscriptions().assign(currency=["USD", None, "usd"])
    with_code = mrr_movements(load(duck, "subscriptions", frame)).to_pandas()
    without = mrr_movements(load(duck, "subscriptions", frame.drop(columns="currency"))).to_pandas()
    pd.testing.assert_frame_equal(with_code, without)
