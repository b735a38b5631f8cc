"""Value at risk never adds a JPY lifetime value to a USD one: converted at as_of, or refused.

The scored business of ``_targeting_data`` with a2's current CLV written in JPY (400 USD were
62,500 JPY at 0.0064 USD per JPY on its as_of day), so the hand total stays 580 USD.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import _targeting_data as data
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.errors import DataValidationError
from retain.targeting import AtRiskQuery, at_risk, at_risk_summary


@pytest.fixture
def mixed(warehouse: Any) -> Any:
    """The scored business with a2's CLV in JPY."""
    clv = [dict(row) for row in data.CLV]
    for row in clv:
        if row["customer_id"] == "a2":
            row.update(clv=62500.0, currency="JPY")
    data.write(warehouse, "customers", data.CUSTOMERS)
    data.write(warehouse, "churn_scores", data.CHURN)
    data.write(warehouse, "clv_scores", clv)
    return warehouse


def test_mixed_clv_currencies_without_rates_are_refused(mixed: Any) -> None:
    with pytest.raises(DataValidationError) as info:
        at_risk_summary(mixed, definition="default").execute()
    message = str(info.value)
    assert "clv_scores" in message
    assert "JPY: 1 rows" in message and "USD: 3 rows" in message  # the current rows only
    assert "retain ingest exchange_rates" in (info.value.hint or "")


def test_with_rates_the_list_and_the_total_agree_in_the_reporting_currency(mixed: Any) -> None:
    rates = pd.DataFrame(
        {
            "currency": ["JPY", "JPY"],
            "reporting_currency": ["USD", "USD"],
            "valid_from": [dt.date(2024, 1, 1), dt.date(2024, 6, 1)],
            "rate": [0.0070, 0.0064],
        }
    )
    wh.write_table(mixed, "exchange_rates", rates)
    summary = at_risk_summary(mixed, definition="default").execute().iloc[0]
    assert summary.at_risk_value == pytest.approx(sum(data.VALUE_AT_RISK.values()))
    every = AtRiskQuery(definition="default", risk_bands=("high", "medium", "low"))
    rows = {r.customer_id: r.at_risk_value or 0.0 for r in at_risk(mixed, every, pii=False).rows}
    assert rows == pytest.approx(data.VALUE_AT_RISK)  # a2: 0.65 x 62500 x 0.0064 = 260


def test_an_old_run_in_a_currency_without_rates_does_not_refuse_todays_list(
    warehouse: Any,
) -> None:
    """Only each customer's newest CLV is converted: a superseded JPY run needs no rate."""
    clv = [dict(row) for row in data.CLV]
    for row in clv:
        if row["customer_id"] == "a1" and row["clv"] == 100.0:  # a1's May run, superseded
            row.update(clv=15625.0, currency="JPY")
    data.write(warehouse, "customers", data.CUSTOMERS)
    data.write(warehouse, "churn_scores", data.CHURN)
    data.write(warehouse, "clv_scores", clv)
    summary = at_risk_summary(warehouse, definition="default").execute().iloc[0]
    assert summary.at_risk_value == pytest.approx(sum(data.VALUE_AT_RISK.values()))
