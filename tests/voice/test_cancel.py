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
    """The one attribute of an OfferPlan that offer_from_plan reads."""

    decisions = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "status": ["target", "holdout", "target"],
            "action": ["discount_10", "pause", "email_only"],
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
        cancel.decide(s, SECRET, token, accepted=False, offer="discount")
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
    }
