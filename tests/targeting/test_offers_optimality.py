"""The plan says how close it is to the best plan possible under the same estimates."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from retain.config import OfferAction, OfferSettings
from retain.i18n import language
from retain.targeting.offers import OfferPlan, plan_offers, summary_lines

COUPON = OfferAction(name="coupon", kind="discount", cost_per_contact=3.0, discount_share=0.0)


def _plan(customers: int, budget: float) -> OfferPlan:
    ids = [f"C{i:02d}" for i in range(customers)]
    frame = pd.DataFrame(
        {"customer_id": ids, "churn_probability": 0.9, "clv": 130.0, "order_value": 10.0}
    )
    # uplift 0.1 x CLV 130 - cost 3 = 10 per customer, at cost 3 each
    uplift = pd.DataFrame(
        {"customer_id": ids, "action": "coupon", "uplift": 0.1, "uplift_honest": 0.1}
    )
    conf = OfferSettings(actions=[COUPON], weeks=1, holdout_share=0.0, min_uplift=0.0)
    plan = plan_offers(frame, budget=budget, settings=conf, uplift=uplift)
    return plan


def test_a_budget_that_cannot_be_spent_whole_reports_its_certified_gap() -> None:
    """20 customers worth 10 at cost 3 and a budget of 10: three fit (30); the LP relaxation
    would spend all 10 on 3 1/3 customers (33.3), an upper bound on any plan."""
    plan = _plan(20, 10.0)
    s = plan.summary
    assert s.targets == 3
    assert s.chosen_profit == pytest.approx(30.0)
    assert 30.0 <= s.best_possible <= 100.0 / 3 + 1e-6
    assert s.solver in {"walk", "relaxation"}
    assert s.optimality == pytest.approx(30.0 / s.best_possible)
    lines = summary_lines(plan, "USD")
    bound = [line for line in lines if "best possible" in line]
    assert len(bound) == 1 and "at least" in bound[0]
    assert json.loads(json.dumps(dataclasses.asdict(s)))["best_possible"] == s.best_possible


def test_an_exactly_solved_plan_says_it_is_the_best_possible_in_each_language() -> None:
    plan = _plan(3, 100.0)
    s = plan.summary
    assert s.optimality == 1.0 and s.best_possible == pytest.approx(30.0)
    expected = {"en": "best possible", "ja": "最善の計画", "ko": "최선의 계획"}
    for lang, words in expected.items():
        with language(lang):
            assert sum(words in line for line in summary_lines(plan, "JPY")) == 1


def test_a_plan_with_nothing_worth_doing_prints_no_bound() -> None:
    ids = ["A", "B"]
    frame = pd.DataFrame(
        {"customer_id": ids, "churn_probability": 0.9, "clv": 10.0, "order_value": 10.0}
    )
    uplift = pd.DataFrame(
        {"customer_id": ids, "action": "coupon", "uplift": 0.1, "uplift_honest": 0.1}
    )
    conf = OfferSettings(actions=[COUPON], weeks=1, holdout_share=0.0, min_uplift=0.0)
    plan = plan_offers(frame, budget=100.0, settings=conf, uplift=uplift)
    assert plan.summary.optimality is None
    assert not any("best possible" in line for line in summary_lines(plan, "USD"))
