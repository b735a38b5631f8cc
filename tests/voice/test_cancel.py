"""The cancellation flow: reasons, the planner's offer or the fallback, one outcome per link."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pytest
from _survey_db import SECRET, sessions, settings
from sqlalchemy import select

import retain.warehouse as wh
from retain.ingest import ingest
from retain.voice import cancel
from retain.voice._survey_tables import CancellationRecord
from retain.voice.links import LinkError

NOW = dt.datetime(2026, 12, 1, 9, 0, 0)


class _Plan:
    """The attributes of an OfferPlan that offer_from_plan reads."""

    plan_id = "plan-test"
    decisions = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "status": ["target", "holdout", "target", "target", "left_out"],
            "action": ["discount_10", "pause", "email_only", "coupon_20", "nothing"],
            "reason": ["target", "holdout", "target", "target", "would_stay"],
        }
    )


def test_the_planner_decides_and_the_fallback_covers_the_rest():
    source = cancel.offer_from_plan(_Plan())  # type: ignore[arg-type]
    assert cancel.choose_offer("C1", "not_using", source) == "discount"  # the planner's
    assert cancel.choose_offer("C2", "not_using", source) == "pause"  # held out: fallback
    assert cancel.choose_offer("C3", "service_problem", source) == "save_desk_call"
    assert cancel.choose_offer("C9", "missing_feature", source) == "downgrade"
    assert cancel.choose_offer("C9", "price") == "discount"  # no planner at all
    assert set(cancel.FALLBACK_OFFERS) == set(cancel.REASONS)


def test_each_offer_says_why_it_was_made():
    """The plan's offer is ``plan``; a fallback names the plan's reason for leaving them out."""
    source = cancel.offer_from_plan(_Plan(), {"coupon_20": "discount"})  # type: ignore[arg-type]
    assert cancel.choose("C1", "not_using", source) == cancel.OfferChoice(
        "discount", "plan", "plan-test"
    )
    assert cancel.choose("C4", "not_using", source).offer == "discount"  # by the action's kind
    assert cancel.choose("C2", "not_using", source).basis == "holdout"
    assert cancel.choose("C3", "price", source).basis == "not_on_page"  # a message action
    assert cancel.choose("C5", "temporary", source) == cancel.OfferChoice(
        "pause", "would_stay", "plan-test"
    )
    assert cancel.choose("C9", "price", source).basis == "not_in_plan"
    assert cancel.choose("C9", "price").basis == "no_plan"
    assert cancel.choose("C1", "price", cancel.PlanOffers()).basis == "no_plan"
    assert set(cancel.FALLBACK_OFFERS.values()) <= set(cancel.OFFERS)


def test_reason_then_outcome_once(tmp_path):
    make = sessions(tmp_path)
    token = cancel.cancel_link(SECRET, "C1", language="ko", now=NOW)
    with make() as s:
        rec = cancel.state_reason(s, SECRET, token, reason="price", comment="비싸요", now=NOW)
        assert (rec.customer_id, rec.language, rec.reason, rec.outcome) == (
            "C1",
            "ko",
            "price",
            None,
        )
        done = cancel.decide(s, SECRET, token, accepted=True, offer="discount", now=NOW)
        assert (done.outcome, done.offer) == ("saved", "discount")
        for step in (
            lambda: cancel.decide(s, SECRET, token, accepted=False, offer="discount", now=NOW),
            lambda: cancel.state_reason(s, SECRET, token, reason="other", now=NOW),
        ):
            with pytest.raises(LinkError) as err:
                step()
            assert err.value.reason == "used"
        assert s.scalars(select(CancellationRecord.outcome)).all() == ["saved"]


def test_bad_reasons_offers_and_links_are_refused(tmp_path):
    make = sessions(tmp_path)
    token = cancel.cancel_link(SECRET, "C1", now=NOW)
    with make() as s:
        with pytest.raises(cancel.CancelError):
            cancel.state_reason(s, SECRET, token, reason="<script>", now=NOW)
        with pytest.raises(LinkError):  # no reason stated yet
            cancel.decide(s, SECRET, token, accepted=False, offer="pause", now=NOW)
        cancel.state_reason(s, SECRET, token, reason="temporary", now=NOW)
        with pytest.raises(cancel.CancelError):
            cancel.decide(s, SECRET, token, accepted=True, offer="free_money", now=NOW)
        later = NOW + cancel.DEFAULT_TTL
        with pytest.raises(LinkError) as err:
            cancel.decide(s, SECRET, token, accepted=False, offer="pause", now=later)
        assert err.value.reason == "expired"
        with pytest.raises(LinkError) as err:
            cancel.state_reason(s, "other", token, reason="price", now=NOW)
        assert err.value.reason == "forged"


def test_a_custom_taxonomy(tmp_path):
    make = sessions(tmp_path)
    token = cancel.cancel_link(SECRET, "C1", now=NOW)
    with make() as s:
        rec = cancel.state_reason(
            s, SECRET, token, reason="moving", reasons=("moving", "other"), now=NOW
        )
        assert rec.reason == "moving"


def test_stated_reasons_are_exit_survey_interactions(tmp_path):
    make = sessions(tmp_path)
    cfg = settings(tmp_path)
    ingest("customers", pa.table({"customer_id": ["C1"]}), settings=cfg)
    token = cancel.cancel_link(SECRET, "C1")
    with make() as s:
        rec = cancel.state_reason(s, SECRET, token, reason="competitor", comment="=HYPERLINK(1)")
        assert cancel.append_interactions(s, cfg, [rec.id]) == 1
        made = cancel.choose("C1", "competitor")  # no planner: the fallback, and why
        cancel.decide(s, SECRET, token, accepted=False, offer=made.offer, basis=made)
        assert cancel.append_interactions(s, cfg, [rec.id]) == 1  # same key: replaced
    con = wh.connect(cfg.warehouse_url)
    try:
        (row,) = con.table("interactions").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    assert row["kind"] == "exit_survey"
    assert json.loads(row["properties"]) == {
        "reason": "competitor",
        "comment": "=HYPERLINK(1)",
        "offer": "discount",
        "outcome": "cancelled",
        "offer_basis": "no_plan",
        "plan_id": None,
    }
