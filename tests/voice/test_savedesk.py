"""The save desk: routing by shrunk save rate within capacity, a recorded random share, rates."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from _case_db import sessions
from sqlalchemy import select

from retain.errors import InvalidParameterError
from retain.voice import savedesk
from retain.voice._case_tables import SaveDeskTask

T0 = dt.datetime(2024, 3, 1, 9, 0)


def _history(session, agent: str, saved: int, cases: int, **cell) -> None:
    """Closed cases of ``agent`` in one cell (price, all, low by default)."""
    values = dict(kind="cancellation", segment="all", reason="price", value_band="low")
    values.update(cell)
    for i in range(cases):
        session.add(
            SaveDeskTask(
                customer_id=f"H-{agent}-{values['reason']}-{i}",
                agent=agent,
                status="done",
                outcome="saved" if i < saved else "cancelled",
                outcome_offer="discount",
                created_at=T0 - dt.timedelta(days=30),
                **values,
            )
        )
    session.flush()


def _cases(session, n: int, reason: str = "price") -> list[SaveDeskTask]:
    return [
        savedesk.open_case(
            session,
            kind="cancellation",
            customer_id=f"C{i}",
            reason=reason,
            value=50,
            at=T0 + dt.timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_wilson_interval_matches_newcombe():
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (score interval).
    assert savedesk.wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert savedesk.wilson(15, 148) == pytest.approx((0.0624, 0.1605), abs=5e-5)
    assert savedesk.wilson(0, 20) == pytest.approx((0.0, 0.1611), abs=5e-5)
    assert savedesk.wilson(1, 29) == pytest.approx((0.0061, 0.1718), abs=5e-5)


def test_cases_go_to_the_best_saver_until_capacity_then_the_next(tmp_path):
    with sessions(tmp_path)() as session:
        _history(session, "ann", 30, 40)
        _history(session, "bob", 10, 40)
        cases = _cases(session, 5)
        agents = [savedesk.Agent("bob", 10), savedesk.Agent("ann", 3)]
        routed = savedesk.route(session, agents, explore=0.0, at=T0)
        assert [c.agent for c in routed] == ["ann"] * 3 + ["bob"] * 2
        assert not any(c.routed_randomly for c in cases)
        # Full: nothing more is assigned, the new case waits.
        extra = savedesk.open_case(session, kind="cancellation", customer_id="X", reason="price")
        assert savedesk.route(session, [savedesk.Agent("ann", 3)], explore=0.0) == []
        assert extra.status == "open" and extra.agent is None


def test_the_rate_that_counts_is_the_one_for_this_kind_of_case(tmp_path):
    with sessions(tmp_path)() as session:
        _history(session, "ann", 35, 40, reason="price")
        _history(session, "ann", 5, 40, reason="service_problem")
        _history(session, "bob", 20, 40, reason="price")
        _history(session, "bob", 30, 40, reason="service_problem")
        price = _cases(session, 1, "price")[0]
        service = savedesk.open_case(
            session, kind="cancellation", customer_id="S", reason="service_problem", value=50
        )
        savedesk.route(session, [savedesk.Agent("ann", 5), savedesk.Agent("bob", 5)], explore=0)
        assert (price.agent, service.agent) == ("ann", "bob")


def test_small_samples_are_shrunk_toward_the_desk_rate(tmp_path):
    with sessions(tmp_path)() as session:
        _history(session, "lucky", 2, 2)  # 100% on two cases
        _history(session, "steady", 60, 100)  # 60% on a hundred
        _history(session, "other", 20, 100)
        case = _cases(session, 1)[0]
        agents = [savedesk.Agent(n, 5) for n in ("lucky", "steady", "other")]
        savedesk.route(session, agents, explore=0.0)
        assert case.agent == "steady"


def test_a_share_is_routed_at_random_and_recorded(tmp_path):
    with sessions(tmp_path)() as session:
        _history(session, "ann", 30, 40)
        _history(session, "bob", 5, 40)
        cases = _cases(session, 400)
        agents = [savedesk.Agent("ann", 1000), savedesk.Agent("bob", 1000)]
        savedesk.route(session, agents, explore=0.2, rng=random.Random(7))
        randoms = [c for c in cases if c.routed_randomly]
        assert 50 <= len(randoms) <= 110  # 20% of 400 = 80
        assert all(c.agent == "ann" for c in cases if not c.routed_randomly)
        assert {c.agent for c in randoms} == {"ann", "bob"}
        with pytest.raises(InvalidParameterError):
            savedesk.route(session, agents, explore=1.5)


def test_outcomes_rates_and_the_agents_own_queue(tmp_path):
    with sessions(tmp_path)() as session:
        cases = _cases(session, 4)
        savedesk.route(session, [savedesk.Agent("ann", 2), savedesk.Agent("bob", 2)], explore=0)
        ann = savedesk.queue_of(session, "ann")
        assert len(ann) == 2 and savedesk.customers_of(session, "ann") == {
            c.customer_id for c in ann
        }
        assert savedesk.customers_of(session, "ann").isdisjoint(
            savedesk.customers_of(session, "bob")
        )
        savedesk.record_outcome(session, ann[0], "saved", offer="pause")
        savedesk.record_outcome(session, ann[1], "cancelled")
        with pytest.raises(InvalidParameterError):
            savedesk.record_outcome(session, ann[1], "saved")
        with pytest.raises(InvalidParameterError):
            savedesk.record_outcome(session, cases[3], "maybe")
        assert savedesk.queue_of(session, "ann") == []
        by_agent = {r.group: r for r in savedesk.rates(session, by="agent")}
        assert (by_agent["ann"].cases, by_agent["ann"].saved) == (2, 1)
        assert by_agent["ann"].ci_low < 0.5 < by_agent["ann"].ci_high
        by_offer = {r.group: (r.cases, r.saved) for r in savedesk.rates(session, by="offer")}
        assert by_offer == {"pause": (1, 1), "discount": (1, 0)}  # price falls back to discount


def test_offers_follow_the_planner_else_the_reason(tmp_path):
    with sessions(tmp_path)() as session:
        planned = savedesk.open_case(
            session, kind="cancellation", customer_id="P", reason="price", planned_offer="pause"
        )
        fallback = savedesk.open_case(
            session, kind="cancellation", customer_id="Q", reason="temporary"
        )
        unknown = savedesk.open_case(session, kind="cancellation", customer_id="R", reason="?")
        assert (planned.offer, fallback.offer, unknown.offer) == ("pause", "pause", "service_call")
        again = savedesk.open_case(session, kind="cancellation", customer_id="P", reason="other")
        assert again.id == planned.id
        with pytest.raises(InvalidParameterError):
            savedesk.open_case(session, kind="refund", customer_id="P")


def test_high_risk_high_value_customers_become_cases(tmp_path):
    with sessions(tmp_path)() as session:
        made = savedesk.flag_high_risk(
            session,
            [("A", 0.9, 5000.0, "vip"), ("B", 0.9, 10.0, "vip"), ("C", 0.1, 5000.0, "vip")],
            planned_offers={"A": "discount"},
        )
        assert [(c.customer_id, c.kind, c.value_band, c.offer) for c in made] == [
            ("A", "high_risk", "high", "discount")
        ]


def test_a_cancellation_asking_for_a_call_becomes_one_case(tmp_path):
    from retain.voice._survey_tables import CancellationRecord

    with sessions(tmp_path)() as session:
        for i, (offer, reason) in enumerate(
            [("save_desk_call", "service_problem"), ("discount", "price")]
        ):
            session.add(
                CancellationRecord(
                    token_hash=f"h{i}",
                    customer_id=f"K{i}",
                    reason=reason,
                    offer=offer,
                    outcome="saved",
                    comment="",
                )
            )
        session.flush()
        made = savedesk.from_cancellations(session, values={"K0": 2500.0})
        assert [(c.customer_id, c.reason, c.value_band) for c in made] == [
            ("K0", "service_problem", "high")
        ]
        savedesk.route(session, [savedesk.Agent("ann", 5)], explore=0.0)
        savedesk.record_outcome(session, made[0], "saved")
        again = savedesk.from_cancellations(session)
        assert [c.id for c in again] == [made[0].id]  # closed, not queued a second time
        assert len(session.scalars(select(SaveDeskTask)).all()) == 1


def test_only_cancellations_that_accepted_the_call_are_queued_with_the_planned_offer(tmp_path):
    """A declined call or an undecided cancellation is nobody asking to be called."""
    from retain.voice._survey_tables import CancellationRecord

    with sessions(tmp_path)() as session:
        for i, outcome, offer in [
            (0, "saved", "save_desk_call"),  # accepted the call
            (1, "cancelled", "save_desk_call"),  # declined it
            (2, None, None),  # stated a reason, decided nothing yet
            (3, "saved", "save_desk_call"),  # accepted; the planner has nothing for them
        ]:
            session.add(
                CancellationRecord(
                    token_hash=f"h{i}",
                    customer_id=f"K{i}",
                    reason="price",
                    offer=offer,
                    outcome=outcome,
                    comment="",
                )
            )
        session.flush()
        made = savedesk.from_cancellations(session, planned_offers={"K0": "coupon_20"})
        assert [(c.customer_id, c.offer) for c in made] == [
            ("K0", "coupon_20"),  # the planner's action
            ("K3", "discount"),  # the reason's fallback
        ]


def test_planned_offers_are_the_plans_targets_only():
    import pandas as pd

    from retain.targeting.offers import plan_offers

    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(40)],
            "churn_probability": [0.2 + 0.015 * i for i in range(40)],
            "clv": [200.0 + 10 * i for i in range(40)],
            "order_value": [50.0] * 40,
        }
    )
    plan = plan_offers(customers, budget=50.0)
    planned = savedesk.planned_offers(plan)
    decisions = plan.decisions.set_index("customer_id")
    assert planned  # the heuristic plan targets someone with this budget
    for customer, action in planned.items():
        assert decisions.loc[customer, "status"] == "target"
        assert decisions.loc[customer, "action"] == action != "nothing"
    others = set(decisions.index) - set(planned)
    assert all(decisions.loc[c, "status"] != "target" for c in others)
