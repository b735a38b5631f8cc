"""The hosted cancellation page offers what the service's plan recommends (issue #20 item 2).

Through the real app on the small demo with real churn, CLV and stored uplift scores: a
subscriber the plan targets is offered the planner's action (a discount: the demo's coupons),
one the plan leaves out gets the reason's documented fallback, in English and Japanese, and
each outcome records why (``offer_basis``) on the record and the ``exit_survey`` interaction.
The plan is computed once for all these page views, and again once its inputs change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _demo_app import ANALYST, csrf, login, served_demo
from fastapi.testclient import TestClient
from sqlalchemy import select

from retain.app.surveys.offers import ServiceOffers, service_plan
from retain.i18n import language, t
from retain.voice import savedesk
from retain.voice._case_tables import SaveDeskTask
from retain.voice._survey_tables import CancellationRecord

pytestmark = pytest.mark.slow

REASON = "not_using"  # fallback: a pause, so the planner's discount is told apart


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo served with stored uplift, and the plan the service should make."""
    with served_demo(tmp_path_factory.mktemp("cancel-plan"), uplift=True) as served:
        plan = service_plan(served["con"], served["settings"])
        assert plan is not None and not plan.heuristic, "the plan must read the stored uplift"
        served["plan"] = plan
        yield served


def _cancel(client: TestClient, key: str, customer: str, lang: str) -> tuple[str, str]:
    made = client.post(
        "/api/v1/surveys/cancel-links",
        json={"customer_id": customer, "language": lang},
        headers={"X-API-Key": key},
    )
    assert made.status_code == 200, made.text
    path = made.json()["path"]
    assert client.get(path).status_code == 200
    stated = client.post(path, data={"reason": REASON, "comment": "rarely use it"})
    assert stated.status_code == 200, stated.text
    return path, stated.text


def _record(app: Any, customer: str) -> CancellationRecord:
    with app.state.sessionmaker() as session:
        rows = session.scalars(
            select(CancellationRecord)
            .where(CancellationRecord.customer_id == customer)
            .order_by(CancellationRecord.id.desc())
        ).all()
        session.expunge_all()
    return rows[0]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_cancel_page_offers_the_plan_and_the_fallback_outside_it(
    demo: dict[str, Any], lang: str
) -> None:
    app, con, plan = demo["app"], demo["con"], demo["plan"]
    key = demo["keys"]["analyst"]
    decisions = plan.decisions
    targets = decisions[
        (decisions["status"] == "target") & decisions["action"].str.contains("coupon")
    ]
    left = decisions[decisions["status"] == "left_out"]
    assert len(targets) and len(left), decisions["status"].value_counts()
    targeted = str(targets["customer_id"].iloc[0])
    outside = str(left["customer_id"].iloc[0])
    outside_reason = str(left["reason"].iloc[0])
    with language(lang):
        discount, pause = t("voice_surveys.offer.discount"), t("voice_surveys.offer.pause")

    with TestClient(app) as client:
        path, page = _cancel(client, key, targeted, lang)
        assert 'name="offer" value="discount"' in page and discount in page  # the planner's
        assert f'lang="{lang}"' in page
        done = client.post(f"{path}/decide", data={"offer": "discount", "choice": "accept"})
        assert done.status_code == 200, done.text

        path, page = _cancel(client, key, outside, lang)
        assert 'name="offer" value="pause"' in page and pause in page  # the fallback
        assert discount not in page
        refused = client.post(f"{path}/decide", data={"offer": "discount", "choice": "accept"})
        assert refused.status_code == 400  # only the offer the page made
        done = client.post(f"{path}/decide", data={"offer": "pause", "choice": "decline"})
        assert done.status_code == 200, done.text

    saved, cancelled = _record(app, targeted), _record(app, outside)
    assert (saved.outcome, saved.offer, saved.offer_basis) == ("saved", "discount", "plan")
    assert saved.plan_id == plan.plan_id
    assert (cancelled.outcome, cancelled.offer, cancelled.offer_basis) == (
        "cancelled",
        "pause",
        outside_reason,
    )
    rows = con.table("interactions").filter(lambda x: x.kind == "exit_survey").to_pandas()
    props = {
        cid: json.loads(p)
        for cid, p in zip(rows["interaction_id"], rows["properties"], strict=True)
    }
    assert props[f"exit-{saved.id}"]["offer_basis"] == "plan"
    assert props[f"exit-{cancelled.id}"]["offer_basis"] == outside_reason
    # one plan for every page view and post so far: appends change none of its inputs
    source = app.state.voice_offer_source
    assert isinstance(source, ServiceOffers) and source.plans == 1


def test_the_plan_is_made_again_when_its_scores_change(demo: dict[str, Any]) -> None:
    app, con = demo["app"], demo["con"]
    source = app.state.voice_offer_source
    customer = str(demo["plan"].decisions["customer_id"].iloc[0])
    with TestClient(app) as client:
        _cancel(client, demo["keys"]["analyst"], customer, "en")  # warm
        before = source.plans
        _cancel(client, demo["keys"]["analyst"], customer, "en")
        assert source.plans == before  # cached
        con.raw_sql("DELETE FROM uplift_scores WHERE action = 'coupon_10'")
        path, _ = _cancel(client, demo["keys"]["analyst"], customer, "en")
        assert source.plans == before + 1  # a new generation with other scores: planned again
        assert client.get(path).status_code == 200  # the next generation, the same scores
        assert source.plans == before + 1


def test_a_case_queued_before_the_plan_gets_the_planners_action(demo: dict[str, Any]) -> None:
    """Route open cases (the dashboard's intake) re-offers a fallback case with the plan."""
    app = demo["app"]
    # the plan of the warehouse as it is now (a test before this one changed its uplift)
    plan = service_plan(demo["con"], demo["settings"])
    assert plan is not None
    planned = savedesk.planned_offers(plan)
    customer = sorted(planned)[-1]
    with app.state.sessionmaker() as session:  # queued with no plan: the reason's fallback
        case = savedesk.open_case(
            session, kind="cancellation", customer_id=customer, reason="price"
        )
        assert case.offer == "discount"
        session.commit()
        case_id = case.id
    with TestClient(app) as client:
        login(client, ANALYST)
        page = client.get("/savedesk")
        done = client.post(
            "/savedesk-route", data={"csrf": csrf(page.text)}, follow_redirects=False
        )
        assert done.status_code == 303 and "updated=1" in done.headers["location"]
    with app.state.sessionmaker() as session:
        row = session.get(SaveDeskTask, case_id)
        assert row is not None and row.offer == planned[customer]  # the planner's action
