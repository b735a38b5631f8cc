"""The planner on the demo's planted campaign effects, judged by the true potential outcomes.

Campaign CMP-04 (a 20 % coupon) targeted ~9,700 lapsed shop customers of a 100,000-customer
demo at random, treatment or holdout, and the demo knows both outcomes of each (``y0``, ``y1``:
an order within 60 days without / with the offer). Uplift comes from the real T-learner
(``retain.models.uplift``, default settings) on features of the customers' orders before the
start, through :func:`uplift_by_halves`: a model fitted on one half chooses, and the other half
measures what customers with such scores really gained, so the profit a plan reports is never
computed on the estimates that chose it (the winner's curse). No customer's own outcome enters
the model that chooses them or the measurement that values them (``campaign_uplift_leak_free``):
choosing customers on a model that saw their outcome would make their true profit look better
than any future customer's.

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
from retain.models.uplift import TLearner
from retain.targeting.offers import PlanSummary, plan_offers, uplift_by_halves

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


FOLDS = 3


def campaign_uplift_leak_free(
    x: pd.DataFrame, arm: np.ndarray, observed: np.ndarray, ids: pd.Series
) -> pd.DataFrame:
    """Every customer's uplift from models and measurements that never saw their outcome.

    In use, the planned customers are not the campaign's: their outcomes lie in the future. To
    judge a plan by the campaign's known outcomes, each third of the campaign is planned with
    :func:`uplift_by_halves` learned on the other two thirds (one half fits a model, the other
    measures it), exactly as a future customer would be.
    """
    fold = np.random.default_rng(0).integers(0, FOLDS, len(x))
    parts = []
    for f in range(FOLDS):
        plan, rest = fold == f, fold != f
        frame = uplift_by_halves(
            TLearner(random_state=0),
            x[rest].reset_index(drop=True),
            arm[rest],
            observed[rest],
            plan_X=x[plan].reset_index(drop=True),
            customer_ids=ids[plan].reset_index(drop=True),
            actions={"treatment": "coupon_20"},
            random_state=f,
            value="amount",  # the plan's value is 0.3 x amount x 2.5: weigh the groups by it
        )
        frame["honest_group"] = f"{f}:" + frame["honest_group"]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def load_campaign(seed: int) -> Campaign:
    """CMP-04 of the 100,000-customer demo of ``seed``: features, uplift, true profits."""
    from sklearn.linear_model import LogisticRegression

    demo = generate(customers=100_000, seed=seed)
    plan = demo.truth.campaigns.set_index("campaign_id").loc[CAMPAIGN]
    rows = demo.truth.campaign_customers
    rows = rows[rows["campaign_id"] == CAMPAIGN].reset_index(drop=True)
    x = _features(demo.tables["orders"], rows["customer_id"], pd.Timestamp(str(plan["started_at"])))
    treated = (rows["group"] == "treatment").to_numpy()
    arm = np.where(treated, "treatment", "control")
    y0, y1 = rows["y0"].to_numpy(float), rows["y1"].to_numpy(float)
    observed = np.where(treated, y1, y0)
    uplift = campaign_uplift_leak_free(x, arm, observed, rows["customer_id"])

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
    valued = uplift.set_index("customer_id")["uplift_honest"].reindex(rows["customer_id"])
    true_profit = (y1 - y0) * value - (CONTACT + DISCOUNT * order_value * y1)
    expected_cost = CONTACT + DISCOUNT * order_value * np.clip(stay + valued.to_numpy(), 0, 1)
    return Campaign(
        customers=customers,
        uplift=uplift,
        true_profit=true_profit,
        risk_rank=np.argsort(-x["recency"].to_numpy(), kind="stable"),
        expected_cost=expected_cost,
    )


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return load_campaign(7)


def plan_campaign(c: Campaign, budget: float) -> tuple[PlanSummary, np.ndarray]:
    action = OfferAction(
        name="coupon_20", kind="discount", cost_per_contact=CONTACT, discount_share=DISCOUNT
    )
    conf = OfferSettings(actions=[action], holdout_share=0.0, min_uplift=0.0)
    plan = plan_offers(c.customers, budget=budget, settings=conf, uplift=c.uplift)
    targets = plan.decisions.loc[plan.decisions["status"] == "target", "customer_id"]
    chosen = c.customers["customer_id"].isin(targets).to_numpy()
    return plan.summary, chosen


def true_interval(values: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(1)
    sums = [values[rng.integers(0, values.size, values.size)].sum() for _ in range(2000)]
    low, high = np.quantile(sums, [0.025, 0.975])
    return float(low), float(high)


def test_with_the_top_decile_budget_the_plan_is_honest_and_better(campaign: Campaign) -> None:
    """Spending what mailing the riskiest tenth (longest since an order) costs."""
    decile = campaign.risk_rank[: len(campaign.risk_rank) // 10]
    budget = float(campaign.expected_cost[decile].sum())
    summary, chosen = plan_campaign(campaign, budget)
    true = float(campaign.true_profit[chosen].sum())
    assert summary.profit_low is not None and summary.profit_high is not None
    assert summary.profit_low <= true <= summary.profit_high
    assert summary.naive_profit > summary.expected_profit  # the largest estimates overstate
    assert true > float(campaign.true_profit[decile].sum())


def test_with_everyones_budget_the_plan_is_honest_and_beats_mailing_everyone(
    campaign: Campaign,
) -> None:
    budget = float(campaign.expected_cost.sum())
    summary, chosen = plan_campaign(campaign, budget)
    true = float(campaign.true_profit[chosen].sum())
    assert summary.profit_low is not None and summary.profit_high is not None
    assert summary.profit_low <= true <= summary.profit_high
    low, high = true_interval(campaign.true_profit[chosen])
    # The two intervals overlap: the estimate is consistent with the truth.
    assert summary.profit_low <= high and low <= summary.profit_high
    assert true > float(campaign.true_profit.sum())
    assert chosen.sum() < chosen.size  # some customers cost more than they bring
    assert summary.naive_profit > summary.expected_profit


def _table(seeds: list[int]) -> None:
    """The table in docs/offers.md: ``python tests/targeting/test_offers_demo.py 7 11 3 5 13``."""
    print("| budget | seed | honest expected [95 % interval] | naive | true | true 95 % interval |")
    print("|---|---|---|---|---|---|")
    for seed in seeds:
        c = load_campaign(seed)
        decile = c.risk_rank[: len(c.risk_rank) // 10]
        for name, budget in (
            ("top risk decile", float(c.expected_cost[decile].sum())),
            ("everyone", float(c.expected_cost.sum())),
        ):
            s, chosen = plan_campaign(c, budget)
            true = float(c.true_profit[chosen].sum())
            low, high = true_interval(c.true_profit[chosen])
            print(
                f"| {name} | {seed} | {s.expected_profit:,.0f} "
                f"[{s.profit_low or 0:,.0f}, {s.profit_high or 0:,.0f}] | {s.naive_profit:,.0f} "
                f"| {true:,.0f} | {low:,.0f} - {high:,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    import sys

    _table([int(a) for a in sys.argv[1:]] or [7, 11, 3, 5, 13])
