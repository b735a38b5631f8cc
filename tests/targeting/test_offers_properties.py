"""Properties of the offer planner (Hypothesis): budget, profit, capacity and holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retain.config import OfferAction, OfferSettings
from retain.targeting.offers import holdout_draw, holdout_mask, plan_offers


@st.composite
def businesses(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, OfferSettings]:
    """A few customers, 1-4 actions with capacities, and noisy uplift per (customer, action)."""
    n = draw(st.integers(1, 25))
    k = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "churn_probability": rng.uniform(0, 1, n),
            "clv": rng.gamma(2.0, 50.0, n),
            "order_value": rng.gamma(2.0, 20.0, n),
        }
    )
    actions = [
        OfferAction(
            name=f"a{j}",
            cost_per_contact=draw(st.floats(0.0, 5.0)),
            discount_share=draw(st.floats(0.0, 0.5)),
            capacity_per_week=draw(st.one_of(st.none(), st.integers(0, 4))),
        )
        for j in range(k)
    ]
    uplift = pd.DataFrame(
        {
            "customer_id": np.repeat(customers["customer_id"].to_numpy(), k),
            "action": [f"a{j}" for j in range(k)] * n,
            "uplift": rng.normal(0.05, 0.1, n * k),
        }
    )
    uplift["uplift_honest"] = uplift["uplift"]
    conf = OfferSettings(actions=actions, weeks=1, holdout_share=0.0, min_uplift=0.0)
    return customers, uplift, conf


@settings(max_examples=150, deadline=None)
@given(businesses(), st.floats(0, 200), st.floats(0, 200))
def test_more_budget_never_lowers_expected_profit(
    case: tuple[pd.DataFrame, pd.DataFrame, OfferSettings], a: float, b: float
) -> None:
    customers, uplift, conf = case
    low, high = sorted((a, b))
    small = plan_offers(customers, budget=low, settings=conf, uplift=uplift)
    large = plan_offers(customers, budget=high, settings=conf, uplift=uplift)
    assert large.summary.expected_profit >= small.summary.expected_profit - 1e-9
    assert small.summary.total_cost <= low + 1e-6
    assert large.summary.total_cost <= high + 1e-6


@settings(max_examples=150, deadline=None)
@given(businesses(), st.floats(0, 500))
def test_no_negative_profit_choice_and_capacity_kept(
    case: tuple[pd.DataFrame, pd.DataFrame, OfferSettings], budget: float
) -> None:
    customers, uplift, conf = case
    plan = plan_offers(customers, budget=budget, settings=conf, uplift=uplift)
    chosen = plan.decisions[plan.decisions["action"] != "nothing"]
    assert (chosen["naive_profit"] > 0).all()
    counts = chosen["action"].value_counts()
    for action in conf.actions:
        if action.capacity_per_week is not None:
            assert counts.get(action.name, 0) <= action.capacity_per_week * conf.weeks
    # One decision per customer, nobody lost or doubled.
    assert sorted(plan.decisions["customer_id"]) == sorted(customers["customer_id"])


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=20), st.floats(0.05, 0.5))
def test_holdout_is_random_and_stable(plan_id: str, share: float) -> None:
    ids = [f"CUST-{i:06d}" for i in range(20_000)]
    mask = holdout_mask(plan_id, ids, share)
    # Binomial(20000, share): 5 standard deviations at most share * (1 - share) / 20000.
    tolerance = 5 * np.sqrt(share * (1 - share) / len(ids))
    assert abs(mask.mean() - share) <= tolerance
    assert np.array_equal(mask, holdout_mask(plan_id, ids, share))
    assert np.array_equal(mask[::7], holdout_mask(plan_id, ids[::7], share))
    # The draw does not follow the customer's order or id: halves hold out alike.
    assert abs(mask[:10_000].mean() - mask[10_000:].mean()) <= 2 * tolerance * np.sqrt(2)


def test_another_plan_draws_another_holdout() -> None:
    ids = [f"CUST-{i:06d}" for i in range(10_000)]
    first, second = holdout_draw("plan-a", ids), holdout_draw("plan-b", ids)
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.05
    # Pinned: the hash must not change between versions, or old plans lose their holdout.
    assert holdout_draw("plan-a", ["C1", "C2"]).tolist() == pytest.approx(
        [0.24716747, 0.77634044], abs=1e-8
    )
