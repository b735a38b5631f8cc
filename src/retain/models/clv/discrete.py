"""BG/BB from the orders table: calendar months as the purchase opportunities.

Some businesses sell at discrete occasions (a monthly box, a yearly event, a donation drive):
whether a customer bought in a month matters, not how often. BG/BB (Fader, Hardie & Shang 2010)
models exactly that. :func:`discrete_summary` turns orders into its inputs, per customer:
``n_periods`` whole months observed after the month of the first order, ``frequency`` how many
of them had an order, ``recency`` the last such month (0 when none), and ``monetary_value``
the average spend of those months (for Gamma-Gamma). :func:`discrete_lifetime_value` values
the next months as :func:`~retain.models.clv.value.customer_lifetime_value` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retain.facts import completed_orders
from retain.models.clv.bgbb import BetaGeoBetaBinomModel
from retain.models.clv.gamma_gamma import GammaGammaModel
from retain.models.clv.value import monthly_discount_rate

__all__ = ["discrete_lifetime_value", "discrete_summary"]


def _month(stamp: Any) -> Any:
    return stamp.year() * 12 + stamp.month()


def discrete_summary(orders: Any, *, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per customer with an order by ``as_of``: BG/BB's (x, t_x, n) in months, and spend.

    Only whole months count as opportunities: the month of ``as_of`` counts when ``as_of`` is
    its last day. Orders are completed orders (:func:`retain.facts.completed_orders`).
    """
    end = pd.Timestamp(as_of).floor("D")
    last_month = end.year * 12 + end.month - (0 if (end + pd.Timedelta(days=1)).day == 1 else 1)
    src = completed_orders(orders)
    src = src.filter(src.ordered_at < end + pd.Timedelta(days=1))
    months = src.group_by(src.customer_id, month=_month(src.ordered_at)).aggregate(
        spend=src.amount.cast("float64").sum()
    )
    frame = months.to_pandas()
    frame["customer_id"] = frame["customer_id"].astype(str)
    first = frame.groupby("customer_id")["month"].transform("min")
    later = frame[(frame["month"] > first) & (frame["month"] <= last_month)]
    start = frame.groupby("customer_id")["month"].min()
    per = later.groupby("customer_id").agg(
        frequency=("month", "size"), last=("month", "max"), spend=("spend", "mean")
    )
    out = pd.DataFrame(index=start.index)
    out["frequency"] = per["frequency"].reindex(start.index).fillna(0).astype(float)
    out["recency"] = (per["last"].reindex(start.index) - start).fillna(0).astype(float)
    out["n_periods"] = np.maximum(last_month - start, 0).astype(float)
    out["monetary_value"] = per["spend"].reindex(start.index).fillna(0.0).astype(float)
    return out.reset_index()


def discrete_lifetime_value(
    purchase_model: BetaGeoBetaBinomModel,
    spend_model: GammaGammaModel,
    summary: pd.DataFrame,
    *,
    horizon_months: int,
    margin: float,
    annual_discount_rate: float,
) -> pd.DataFrame:
    """Discounted margin over the next ``horizon_months`` months per customer (BG/BB + GG).

    Columns as :func:`~retain.models.clv.value.customer_lifetime_value`: ``recency`` and ``T``
    are in months (the last month with an order, and the months observed).
    """
    frame = summary.reset_index(drop=True)
    spend = spend_model.expected_customer_spend(frame).to_numpy()
    alive = purchase_model.probability_alive(frame).to_numpy()
    d_m = monthly_discount_rate(annual_discount_rate)
    previous = np.zeros(len(frame))
    clv = np.zeros(len(frame))
    for i in range(1, horizon_months + 1):
        cumulative = purchase_model.conditional_expected_purchases(i, frame).to_numpy()
        clv += margin * spend * (cumulative - previous) / (1.0 + d_m) ** i
        previous = cumulative
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "frequency": frame["frequency"].to_numpy(dtype=float),
            "recency": frame["recency"].to_numpy(dtype=float),
            "T": frame["n_periods"].to_numpy(dtype=float),
            "monetary_value": frame["monetary_value"].to_numpy(dtype=float),
            "probability_alive": alive,
            "expected_purchases": previous,
            "expected_spend": spend,
            "clv": clv,
        }
    )
