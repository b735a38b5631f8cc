"""The save desk's intake: queue, give unworked fallback cases the plan's action, route."""

from __future__ import annotations

import datetime as dt
import random

from _case_db import sessions

from retain.voice import savedesk
from retain.voice._case_tables import CallLog, CustomerNote
from retain.voice._survey_tables import CancellationRecord
from retain.voice.intake import intake, worked

T0 = dt.datetime(2026, 12, 1, 9, 0)
ANN = savedesk.Agent("ann@example.org", 20)


def _asked_for_a_call(session, customer: str, reason: str) -> None:
    session.add(
        CancellationRecord(
            token_hash=f"h-{customer}",
            customer_id=customer,
            reason=reason,
            offer="save_desk_call",
            outcome="saved",
            created_at=T0,
            decided_at=T0,
        )
    )
    session.flush()


def test_a_later_plan_updates_only_unworked_fallback_cases(tmp_path):
    with sessions(tmp_path)() as s:
        for customer, reason in [("C1", "price"), ("C2", "not_using"), ("C3", "temporary")]:
            _asked_for_a_call(s, customer, reason)
        # no plan yet: every case shows its reason's fallback and goes to Ann
        first = intake(s, [ANN], explore=0.0, rng=random.Random(1))
        assert [(t.customer_id, t.offer) for t in first.queued] == [
            ("C1", "discount"),
            ("C2", "pause"),
            ("C3", "pause"),
        ]
        assert first.updated == [] and len(first.routed) == 3
        c1, c2, c3 = first.queued
        # Ann works C2 (a call logged after routing); a case opened with a planner's offer
        s.add(CallLog(customer_id="C2", agent=ANN.name, outcome="reached", occurred_at=T0))
        c2.assigned_at = T0 - dt.timedelta(hours=1)
        planned_case = savedesk.open_case(
            s, kind="high_risk", customer_id="C4", reason="price", planned_offer="coupon_20"
        )
        s.flush()
        assert worked(s, c2) and not worked(s, c1)

        plan = {"C1": "coupon_10", "C2": "coupon_10", "C4": "discount", "C5": "coupon_20"}
        second = intake(s, [ANN], planned_offers=plan, explore=0.0)
        assert [t.customer_id for t in second.updated] == ["C1"]
        assert (c1.offer, c2.offer, c3.offer) == ("coupon_10", "pause", "pause")
        assert planned_case.offer == "coupon_20"  # a planner's offer is never replaced
        assert [t.id for t in second.queued] == [c1.id, c2.id, c3.id]  # nothing queued twice

        # a note by the agent also counts as work; a closed case is never touched
        s.add(CustomerNote(customer_id="C3", author=ANN.name, body="left a message"))
        s.flush()
        assert worked(s, c3)
        savedesk.record_outcome(s, c1, "saved")
        third = intake(s, [ANN], planned_offers={"C1": "coupon_20", "C3": "coupon_10"})
        assert third.updated == [] and (c1.offer, c3.offer) == ("coupon_10", "pause")


def test_high_risk_customers_are_queued_by_the_same_call(tmp_path):
    with sessions(tmp_path)() as s:
        done = intake(
            s,
            [],
            high_risk=[("R1", 0.9, 5000.0, "subscription"), ("R2", 0.2, 5000.0, "subscription")],
            planned_offers={"R1": "coupon_20"},
        )
        assert [(t.customer_id, t.kind, t.offer) for t in done.queued] == [
            ("R1", "high_risk", "coupon_20")
        ]
        assert done.routed == []  # nobody to route to: the case waits
