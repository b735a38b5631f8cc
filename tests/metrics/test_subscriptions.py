"""MRR movements by hand (ChartMogul conventions), trials, annual plans and retention rates."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from metric_tables import load

from retain.metrics import MRR_COLUMNS, mrr_movements, period_metrics, subscription_activity


def subscriptions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subscription_id": list("123456"),
            "customer_id": list("aabcdd"),
            "plan": ["basic", "addon", "annual", "basic", "pro", "pro"],
            "started_at": pd.to_datetime(
                ["2024-01-10", "2024-02-15", "2024-01-01", "2024-02-01", "2024-01-20", "2024-04-05"]
            ),
            "ended_at": pd.to_datetime(
                ["2024-03-10", None, "2024-02-20", None, "2024-02-10", None]
            ),
            "billing_period": ["month", "month", "year", "month", "month", "month"],
            "amount": [10.0, 5.0, 120.0, 20.0, 30.0, 30.0],
            "trial_ends_at": pd.to_datetime([None, None, None, "2024-03-01", None, None]),
        }
    )


def test_mrr_movements_by_hand(duck: Any) -> None:
    got = mrr_movements(load(duck, "subscriptions", subscriptions())).to_pandas()
    assert tuple(got.columns) == MRR_COLUMNS
    # Jan end: a 10, b 120/12 = 10, d 30 -> 50 new.  c is in a free trial until Mar 1.
    # Feb end: a 10 + 5 add-on (expansion 5); b and d ended (churn -40) -> 15
    # Mar end: a's basic ended (contraction -10); c pays 20 (new) -> 25
    # Apr end: d is back (reactivation 30) -> 55
    assert got.mrr.tolist() == [50.0, 15.0, 25.0, 55.0]
    assert got.new_mrr.tolist() == [50.0, 0.0, 20.0, 0.0]
    assert got.expansion_mrr.tolist() == [0.0, 5.0, 0.0, 0.0]
    assert got.contraction_mrr.tolist() == [0.0, 0.0, -10.0, 0.0]
    assert got.churned_mrr.tolist() == [0.0, -40.0, 0.0, 0.0]
    assert got.reactivation_mrr.tolist() == [0.0, 0.0, 0.0, 30.0]
    assert (got.mrr_start + got.net_new_mrr == got.mrr).all()
    assert got.customers.tolist() == [3, 1, 2, 3]
    assert got.churned_customers.tolist() == [0, 2, 0, 0]
    assert got.logo_churn_rate[1] == pytest.approx(200 / 3)
    assert got.gross_revenue_retention[1] == pytest.approx(20.0)  # (50 - 40) / 50
    assert got.net_revenue_retention[1] == pytest.approx(30.0)  # (50 - 40 + 5) / 50
    assert got.gross_revenue_retention[2] == pytest.approx(100 * 5 / 15)


def test_unconverted_trial_counts_nothing(duck: Any) -> None:
    frame = (
        subscriptions()
        .iloc[[0]]
        .assign(
            trial_ends_at=pd.to_datetime(["2024-02-10"]), ended_at=pd.to_datetime(["2024-02-01"])
        )
    )
    got = mrr_movements(load(duck, "subscriptions", frame)).to_pandas()
    assert got.empty


def test_periods_and_mrr_agree_on_subscribers_and_churn(duck: Any) -> None:
    """One definition of a subscriber: live at the end of the period (#16 item 9)."""
    frame = subscriptions()
    # e starts and ends within March (never live at a period end); f ends with the data's end
    frame = pd.concat(
        [
            frame,
            pd.DataFrame(
                {
                    "subscription_id": ["7", "8"],
                    "customer_id": ["e", "f"],
                    "plan": ["basic", "basic"],
                    "started_at": pd.to_datetime(["2024-03-02", "2024-01-05"]),
                    "ended_at": pd.to_datetime(["2024-03-20", "2024-05-15"]),
                    "billing_period": ["month", "month"],
                    "amount": [10.0, 10.0],
                    "trial_ends_at": pd.to_datetime([None, None]),
                }
            ),
        ],
        ignore_index=True,
    )
    subs = load(duck, "subscriptions", frame)
    mrr = mrr_movements(subs).to_pandas()
    periods = period_metrics(None, activity=subscription_activity(subs)).to_pandas()
    # the month f ends is the data's last: both run to it and show its churn there
    assert periods.period_start.tolist() == mrr.period_start.tolist()
    assert periods.period_start.dt.strftime("%Y-%m").tolist()[-1] == "2024-05"
    assert periods.customers_start.tolist() == mrr.customers_start.tolist()
    assert periods.customers_end.tolist() == mrr.customers.tolist()
    assert periods.new_customers.tolist() == mrr.new_customers.tolist()
    assert periods.reactivated_customers.tolist() == mrr.reactivated_customers.tolist()
    assert periods.lost_customers.tolist() == mrr.churned_customers.tolist()
    assert periods.lost_customers.tolist() == [0, 2, 0, 0, 1]  # b, d in Feb; f in May
    pd.testing.assert_series_equal(
        periods.churn_rate, mrr.logo_churn_rate, check_names=False, check_dtype=False
    )
