"""The offer plan: who is chosen, who is left out and why, and what the totals say."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from retain.config import OfferAction, OfferSettings
from retain.errors import InvalidParameterError
from retain.targeting.offers import heuristic_uplift, plan_offers

COUPON = OfferAction(name="coupon", kind="discount", cost_per_contact=1.0, discount_share=0.1)
CALL = OfferAction(name="call", kind="call", cost_per_contact=10.0, capacity_per_week=1)


def _customers(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "churn_probability", "clv", "order_value"])


def _uplift(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "action", "uplift", "uplift_honest"])


def _conf(*actions: OfferAction, **kw: float) -> OfferSettings:
    return OfferSettings(actions=list(actions), weeks=1, holdout_share=0.0, **kw)  # type: ignore[arg-type]


def _row(plan_frame: pd.DataFrame, cid: str) -> dict[str, Any]:
    row = plan_frame.set_index("customer_id").loc[cid]
    return {str(k): v for k, v in row.items()}


def test_each_customer_gets_the_most_profitable_action_and_costs_add_up() -> None:
    customers = _customers([("A", 0.5, 200.0, 50.0), ("B", 0.5, 20.0, 50.0)])
    uplift = _uplift(
        [
            ("A", "coupon", 0.10, 0.10),  # 20 - (1 + 0.1 * 50 * 0.6) = 16
            ("A", "call", 0.30, 0.30),  # 60 - 10 = 50: the call wins for A
            ("B", "coupon", 0.10, 0.10),  # 2 - 4 = -2: not worth it
            ("B", "call", 0.05, 0.05),  # 1 - 10 < 0
        ]
    )
    plan = plan_offers(customers, budget=100.0, settings=_conf(COUPON, CALL), uplift=uplift)
    a, b = _row(plan.decisions, "A"), _row(plan.decisions, "B")
    assert (a["action"], a["status"]) == ("call", "target")
    assert a["expected_profit"] == pytest.approx(50.0)
    assert (b["action"], b["reason"]) == ("nothing", "not_worth_cost")
    assert plan.summary.total_cost == pytest.approx(10.0)
    assert plan.summary.roi == pytest.approx(5.0)
    assert plan.summary.left_out["not_worth_cost"] == 1


def test_discount_is_paid_by_those_who_would_have_stayed() -> None:
    """A customer who stays anyway still redeems the coupon: the cost counts P(stay)."""
    customers = _customers([("A", 0.2, 100.0, 100.0)])
    uplift = _uplift([("A", "coupon", 0.1, 0.1)])
    plan = plan_offers(customers, budget=100.0, settings=_conf(COUPON), uplift=uplift)
    # 1 per contact + 10% of 100 x (0.8 stays anyway + 0.1 uplift) = 10 -> profit 10 - 10 = 0.
    assert _row(plan.decisions, "A")["reason"] == "not_worth_cost"


def test_left_out_reasons() -> None:
    customers = _customers(
        [
            ("STAY", 0.02, 100.0, 10.0),
            ("DEAF", 0.6, 100.0, 10.0),
            ("POOR", 0.6, 1.0, 10.0),
            ("CAP1", 0.6, 500.0, 10.0),
            ("CAP2", 0.6, 400.0, 10.0),
            ("RICH", 0.6, 300.0, 10.0),
            ("LATE", 0.6, 100.0, 10.0),
        ]
    )
    uplift = _uplift(
        [
            ("STAY", "call", 0.001, 0.001),
            ("DEAF", "call", 0.0001, 0.0001),
            ("POOR", "call", 0.2, 0.2),
            ("CAP1", "call", 0.2, 0.2),
            ("CAP2", "call", 0.2, 0.2),
            ("RICH", "coupon", 0.2, 0.2),
            ("LATE", "visit", 0.2, 0.2),
        ]
    )
    visit = OfferAction(name="visit", kind="call", cost_per_contact=9.0)
    conf = _conf(COUPON, CALL, visit, min_uplift=0.001)
    # Ranked by profit per cost: RICH (58.4 / 1.6), CAP1 (90 / 10), CAP2 (70 / 10), LATE (11 / 9).
    plan = plan_offers(customers, budget=20.0, settings=conf, uplift=uplift)
    reasons = plan.decisions.set_index("customer_id")["reason"].to_dict()
    assert reasons["STAY"] == "would_stay"
    assert reasons["DEAF"] == "unlikely_to_respond"
    assert reasons["POOR"] == "not_worth_cost"
    assert reasons["RICH"] == "target"
    assert reasons["CAP1"] == "target"  # the call's one slot goes to the better ratio
    assert reasons["CAP2"] == "over_capacity"
    assert reasons["LATE"] == "over_budget"  # 8.4 left, the visit costs 9
    assert plan.summary.left_out == {
        "would_stay": 1,
        "not_worth_cost": 1,
        "unlikely_to_respond": 1,
        "over_capacity": 1,
        "over_budget": 1,
    }


def test_reported_profit_is_the_honest_one() -> None:
    """Chosen on inflated estimates, valued on the out-of-fold ones (the winner's curse)."""
    customers = _customers([(f"C{i}", 0.5, 100.0, 0.0) for i in range(4)])
    uplift = _uplift([(f"C{i}", "coupon", 0.3, 0.1) for i in range(4)])
    plan = plan_offers(customers, budget=100.0, settings=_conf(COUPON), uplift=uplift)
    assert plan.summary.targets == 4
    assert plan.summary.naive_profit == pytest.approx(4 * (30.0 - 1.0))
    assert plan.summary.expected_profit == pytest.approx(4 * (10.0 - 1.0))
    assert plan.summary.winners_curse == pytest.approx(80.0)


def test_without_history_the_heuristic_is_named_and_used() -> None:
    customers = _customers([("A", 0.8, 1000.0, 10.0), ("B", 0.1, 1000.0, 10.0)])
    conf = _conf(COUPON.model_copy(update={"assumed_response_rate": 0.05}))
    plan = plan_offers(customers, budget=100.0, settings=conf)
    assert plan.heuristic
    assert plan.response_rates == {"coupon": 0.05}
    assert _row(plan.decisions, "A")["uplift"] == pytest.approx(0.8 * 0.05)
    frame = heuristic_uplift(customers, conf.actions)
    assert frame["uplift"].tolist() == pytest.approx([0.04, 0.005])
    with_history = plan_offers(
        customers, budget=100.0, settings=conf, uplift=frame.assign(uplift_honest=0.01)
    )
    assert not with_history.heuristic
    assert with_history.response_rates == {}


def test_holdout_is_chosen_but_not_contacted_or_costed() -> None:
    n = 2000
    customers = _customers([(f"C{i}", 0.5, 100.0, 0.0) for i in range(n)])
    uplift = _uplift([(f"C{i}", "coupon", 0.1, 0.1) for i in range(n)])
    conf = OfferSettings(actions=[COUPON], weeks=1, holdout_share=0.2)
    plan = plan_offers(customers, budget=1e6, settings=conf, uplift=uplift, plan_id="p1")
    held = plan.summary.holdout
    assert abs(held / n - 0.2) < 0.04
    assert plan.summary.targets + held == n
    assert plan.summary.total_cost == pytest.approx(plan.summary.targets * 1.0)
    again = plan_offers(customers, budget=1e6, settings=conf, uplift=uplift, plan_id="p1")
    assert again.decisions.equals(plan.decisions)


def test_what_if_is_points_of_retention_times_clv() -> None:
    customers = _customers([("A", 0.5, 100.0, 0.0), ("B", 0.5, 300.0, 0.0)])
    plan = plan_offers(customers, budget=0.0, settings=_conf(COUPON, what_if_points=5.0))
    assert plan.summary.what_if_profit == pytest.approx(0.05 * 400.0)
    assert plan.summary.targets == 0
    assert plan.summary.roi is None


def test_bad_inputs_are_named() -> None:
    customers = _customers([("A", 0.5, 100.0, 0.0)])
    with pytest.raises(InvalidParameterError, match="budget"):
        plan_offers(customers, budget=-1.0)
    with pytest.raises(InvalidParameterError, match="order_value"):
        plan_offers(customers.drop(columns="order_value"), budget=1.0)
    with pytest.raises(InvalidParameterError, match="sms"):
        plan_offers(
            customers,
            budget=1.0,
            settings=_conf(COUPON),
            uplift=_uplift([("A", "sms", 0.1, 0.1)]),
        )


def test_customers_without_an_estimate_are_never_chosen() -> None:
    customers = _customers([("A", 0.5, 100.0, 0.0), ("B", 0.5, 100.0, 0.0)])
    uplift = _uplift([("A", "coupon", 0.2, 0.2)])
    plan = plan_offers(customers, budget=10.0, settings=_conf(COUPON), uplift=uplift)
    assert _row(plan.decisions, "B")["action"] == "nothing"
    assert np.isnan(_row(plan.decisions, "B")["uplift"])


def test_a_plan_id_spells_the_budget_out() -> None:
    """The id names the plan in every output and seeds its holdout: a round budget reads as
    written, never in exponent form ("plan-latest-1e+06")."""
    from retain.targeting.offers.plan import _plan_id

    assert _plan_id(None, 1_000_000.0, None) == "plan-latest-1000000"
    assert _plan_id(None, 1500.5, "vip") == "plan-latest-1500.5-vip"
    assert _plan_id(None, 100.0, None) == "plan-latest-100"
