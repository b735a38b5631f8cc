"""The planner on the demo's planted campaign effects, judged by the true potential outcomes.

Campaign CMP-04 (a 20 % coupon) targeted ~9,700 lapsed shop customers of a 100,000-customer
demo at random, treatment or holdout, and the demo knows both outcomes of each (``y0``, ``y1``:
an order within 60 days without / with the offer). Uplift comes from the real T-learner
(``retain.models.uplift``) on features of the customers' orders before the start. It is
*cross-fitted by halves*: customers are split in two, a model is fitted on each half, and a
customer is chosen on their own half's model but valued on the other half's, so the profit a
plan reports is never computed on the estimates that chose it (the winner's curse).

The true incremental profit of a set of customers is sum((y1 - y0) x value - cost), with the
coupon paid on every order placed with it (also by those who would have ordered anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from retain.config import OfferAction, OfferSettings
from retain.demo import generate
from retain.targeting.offers import plan_offers

pytestmark = pytest.mark.slow

CAMPAIGN = "CMP-04"
CONTACT = 0.5
DISCOUNT = 0.2
VALUE_ORDERS = 2.5
"""A customer kept is worth margin 0.3 x their average order x this many orders."""


@dataclass
class Campaign:
    customers: pd.DataFrame
    uplift: pd.DataFrame
    true_profit: np.ndarray
    risk_rank: np.ndarray
    expected_cost: np.ndarray


def _features(orders: pd.DataFrame, ids: pd.Series, start: pd.Timestamp) -> pd.DataFrame:
    done = orders[(orders["status"] == "completed") & (orders["ordered_at"] < start)]
    per = done.groupby("customer_id").agg(
        n=("order_id", "size"),
        last=("ordered_at", "max"),
        amount=("amount", "mean"),
        discounted=("discount_amount", lambda s: float((s > 0).mean())),
    )
    found = per.reindex(ids)
    return pd.DataFrame(
        {
            "discounted": found["discounted"].fillna(0.0).to_numpy(),
            "recency": (start - found["last"]).dt.days.fillna(999).to_numpy(),
            "orders": found["n"].fillna(0).to_numpy(),
            "amount": found["amount"].fillna(0.0).to_numpy(),
        }
    )


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    from sklearn.linear_model import LogisticRegression

    from retain.models.uplift import TLearner

    demo = generate(customers=100_000, seed=7)
    plan = demo.truth.campaigns.set_index("campaign_id").loc[CAMPAIGN]
    rows = demo.truth.campaign_customers
    rows = rows[rows["campaign_id"] == CAMPAIGN].reset_index(drop=True)
    x = _features(demo.tables["orders"], rows["customer_id"], pd.Timestamp(str(plan["started_at"])))
    treated = (rows["group"] == "treatment").to_numpy()
    arm = np.where(treated, "treatment", "control")
    y0, y1 = rows["y0"].to_numpy(float), rows["y1"].to_numpy(float)
    observed = np.where(treated, y1, y0)

    half = np.random.default_rng(0).random(len(rows)) < 0.5
    models = [
        TLearner(random_state=0, min_child_samples=400).fit(x[part], arm[part], observed[part])
        for part in (half, ~half)
    ]
    first, second = (np.asarray(m.predict_uplift(x)).reshape(-1) for m in models)
    chosen_on = np.where(half, first, second)
    valued_on = np.where(half, second, first)
    z = np.column_stack(
        [x["discounted"], np.log1p(x["recency"]), np.log1p(x["orders"]), np.log1p(x["amount"])]
    )
    stay = LogisticRegression().fit(z[~treated], y0[~treated]).predict_proba(z)[:, 1]

    value = 0.3 * x["amount"].to_numpy() * VALUE_ORDERS
    order_value = x["amount"].to_numpy()
    customers = pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "churn_probability": 1.0 - stay,
            "clv": value,
            "order_value": order_value,
        }
    )
    uplift = pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "action": "coupon_20",
            "uplift": chosen_on,
            "uplift_honest": valued_on,
        }
    )
    true_profit = (y1 - y0) * value - (CONTACT + DISCOUNT * order_value * y1)
    expected_cost = CONTACT + DISCOUNT * order_value * np.clip(stay + valued_on, 0, 1)
    return Campaign(
        customers=customers,
        uplift=uplift,
        true_profit=true_profit,
        risk_rank=np.argsort(-x["recency"].to_numpy(), kind="stable"),
        expected_cost=expected_cost,
    )


def _plan(c: Campaign, budget: float) -> tuple[float, float, np.ndarray]:
    action = OfferAction(
        name="coupon_20", kind="discount", cost_per_contact=CONTACT, discount_share=DISCOUNT
    )
    conf = OfferSettings(actions=[action], holdout_share=0.0, min_uplift=0.0)
    plan = plan_offers(c.customers, budget=budget, settings=conf, uplift=c.uplift)
    targets = plan.decisions.loc[plan.decisions["status"] == "target", "customer_id"]
    chosen = c.customers["customer_id"].isin(targets).to_numpy()
    return plan.summary.expected_profit, plan.summary.naive_profit, chosen


def _interval(values: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(1)
    sums = [values[rng.integers(0, values.size, values.size)].sum() for _ in range(2000)]
    low, high = np.quantile(sums, [0.025, 0.975])
    return float(low), float(high)


def test_with_the_top_decile_budget_the_plan_is_honest_and_better(campaign: Campaign) -> None:
    """Spending what mailing the riskiest tenth (longest since an order) costs."""
    decile = campaign.risk_rank[: len(campaign.risk_rank) // 10]
    budget = float(campaign.expected_cost[decile].sum())
    expected, naive, chosen = _plan(campaign, budget)
    true = float(campaign.true_profit[chosen].sum())
    low, high = _interval(campaign.true_profit[chosen])
    assert low <= expected <= high
    assert naive > expected  # choosing the largest estimates overstates them
    assert true > float(campaign.true_profit[decile].sum())


def test_with_everyones_budget_the_plan_beats_mailing_everyone(campaign: Campaign) -> None:
    budget = float(campaign.expected_cost.sum())
    expected, naive, chosen = _plan(campaign, budget)
    true = float(campaign.true_profit[chosen].sum())
    assert true > float(campaign.true_profit.sum())
    assert chosen.sum() < chosen.size  # some customers cost more than they bring
    assert naive > expected
