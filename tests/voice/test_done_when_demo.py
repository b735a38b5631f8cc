"""Issue #20's "Done when", end to end on the demo business, through the real service.

A small demo (800 customers, seed 5) with a real churn model for its subscription line and
real CLV scores (the demo pipeline's own steps). One subscriber the offer planner targets:

1. answers an NPS survey as a detractor (a signed invitation link),
2. opens a complaint (the tickets API),
3. states an exit reason on the hosted cancellation page and accepts a call from the save desk.

Each of the three reaches the customer 360 (page and API), the reasons page and the churn
features (the feature snapshot counts them); the save-desk intake queues the cancellation with
the planner's recommended offer (not the reason's fallback), routes it to the agent, who saves
the customer with that offer, and the save rate is reported.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from _demo_app import AGENT, ANALYST, SUBSCRIPTION, served_demo
from _demo_app import csrf as _csrf
from _demo_app import login as _login
from fastapi.testclient import TestClient

from retain.features import feature_snapshot
from retain.targeting.offers import plan_from_warehouse
from retain.voice import savedesk

pytestmark = pytest.mark.slow

BUDGET = 1_000.0
# The three texts share words, so the reasons page groups them into one theme with all three.
COMMENT = "The delivery was late again and nobody answered my messages"
COMPLAINT = "My delivery was late again and the box was damaged"
EXIT_COMMENT = "Every delivery was late again this year"
SUBJECT = "Late delivery, damaged box"


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo in DuckDB with real churn and CLV scores, served by the app; users per role."""
    with served_demo(tmp_path_factory.mktemp("done-when")) as served:
        yield served


def _features(con: Any, customer: str, as_of: dt.date) -> pd.Series:
    snap = feature_snapshot(con, as_of=as_of, definition=SUBSCRIPTION)
    rows = snap.filter(snap.customer_id == customer).to_pandas()
    assert len(rows) == 1, f"{customer} is not in the subscription line's population"
    return rows.iloc[0]


def test_voice_flows_through_to_the_360_reasons_features_and_save_desk(
    demo_app: dict[str, Any],
) -> None:
    app, con, settings, keys = (demo_app[k] for k in ("app", "con", "settings", "keys"))
    analyst = {"X-API-Key": keys["analyst"]}
    # the planner's plan for the subscription line, as the intake below will ask for it
    plan = plan_from_warehouse(
        con, budget=BUDGET, definition=SUBSCRIPTION.name, settings=settings.offers
    )
    planned = savedesk.planned_offers(plan)
    assert planned, "the planner targets nobody on the demo"
    customer = sorted(planned)[0]
    recommended = planned[customer]
    assert recommended != savedesk.recommend_offer("service_problem")  # not the fallback
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    before = _features(con, customer, tomorrow)

    with TestClient(app) as client:
        # 1. a detractor's NPS answer through the signed invitation link
        made = client.post(
            "/api/v1/surveys/invitations",
            json={"survey": "nps", "customer_id": customer, "language": "ja"},
            headers=analyst,
        )
        assert made.status_code == 200, made.text
        link = made.json()["path"]
        assert client.get(link).status_code == 200
        answered = client.post(link, data={"score": "2", "comment": COMMENT})
        assert answered.status_code == 200, answered.text

        # 2. a complaint through the tickets API
        opened = client.post(
            "/api/v1/tickets",
            json={"records": [{"customer_id": customer, "subject": SUBJECT, "body": COMPLAINT}]},
            headers={"X-API-Key": keys["ingest"]},
        )
        assert opened.status_code == 200 and not opened.json()["errors"], opened.text

        # 3. the exit survey on the hosted cancellation page; the customer accepts a call
        made = client.post(
            "/api/v1/surveys/cancel-links", json={"customer_id": customer}, headers=analyst
        )
        cancel = made.json()["path"]
        stated = client.post(cancel, data={"reason": "service_problem", "comment": EXIT_COMMENT})
        assert stated.status_code == 200, stated.text
        assert 'name="offer" value="save_desk_call"' in stated.text
        decided = client.post(
            f"{cancel}/decide", data={"offer": "save_desk_call", "choice": "accept"}
        )
        assert decided.status_code == 200, decided.text

        # the save desk queues it with the planner's offer and routes it to the agent
        intake = client.post(
            "/api/v1/savedesk/intake",
            json={"budget": BUDGET, "definition": SUBSCRIPTION.name},
            headers=analyst,
        )
        assert intake.status_code == 200, intake.text
        queued = [c for c in intake.json()["queued"] if c["customer_id"] == customer]
        assert [(c["kind"], c["reason"], c["offer"]) for c in queued] == [
            ("cancellation", "service_problem", recommended)
        ]
        routed = {c["id"]: c["agent"] for c in intake.json()["routed"]}
        case = queued[0]["id"]
        assert routed[case] == AGENT

        # the customer 360 through the API: all three on the timeline
        api = client.get(f"/api/v1/customers/{quote(customer, safe='')}", headers=analyst)
        assert api.status_code == 200, api.text
        kinds = {
            item["detail"].get("kind")
            for item in api.json()["timeline"]
            if item["kind"] == "interaction"
        }
        assert {"survey_answer", "exit_survey", "complaint"} <= kinds

    with TestClient(app) as agent:
        _login(agent, AGENT)
        queue = agent.get("/savedesk")
        assert queue.status_code == 200 and f"/savedesk/{case}" in queue.text
        page = agent.get(f"/customers/{quote(customer, safe='')}")
        assert page.status_code == 200, page.text
        for kind in ("survey_answer", "exit_survey", "complaint"):
            assert kind in page.text
        assert SUBJECT in page.text  # the ticket on the work timeline
        assert f"<strong>{recommended}</strong>" in page.text  # the case's recommended offer
        assert "call back" in page.text.lower() or "customer-care" in page.text  # detractor task
        closed = agent.post(
            f"/savedesk/{case}",
            data={"result": "saved", "offer": recommended, "csrf": _csrf(queue.text)},
            follow_redirects=False,
        )
        assert closed.status_code == 303, closed.text

    with TestClient(app) as client:
        # the save rate is reported, per offer and per agent
        by_offer = client.get("/api/v1/savedesk/rates?by=offer", headers=analyst).json()
        assert {r["group"]: (r["cases"], r["saved"], r["rate"]) for r in by_offer["rates"]} == {
            recommended: (1, 1, 1.0)
        }
        by_agent = client.get("/api/v1/savedesk/rates?by=agent", headers=analyst).json()
        assert [(r["group"], r["saved"]) for r in by_agent["rates"]] == [(AGENT, 1)]
        _login(client, ANALYST)
        desk = client.get("/savedesk")
        assert desk.status_code == 200, desk.text
        shown = desk.text.split('data-testid="rates"', 1)[1]
        assert re.search(rf"<td>{re.escape(AGENT)}</td><td class=\"num\">1</td><td>100%", shown)

        # the reasons page: the stated reason, beside the model's, and the words in a theme
        today = dt.datetime.now(dt.UTC).date().isoformat()
        reasons = client.get(f"/reasons?since={today}")
        assert reasons.status_code == 200, reasons.text
        stated_rows = re.findall(r'<tr data-reason="([a-z_]+)"><th scope="row">', reasons.text)
        assert "service_problem" in stated_rows
        assert re.search(r'data-model-reason="(?!none)[^"]+"', reasons.text)
        quotes = re.findall(r"<q>([^<]*)</q>", reasons.text)
        for text in (COMMENT, COMPLAINT, EXIT_COMMENT):  # the complaint's quote has its subject
            assert any(text in quote for quote in quotes), (text, quotes)

    # the churn features count each of them
    after = _features(con, customer, tomorrow)
    assert after["survey_responses"] == before["survey_responses"] + 1
    assert after["survey_last_score"] == 2
    assert after["complaints_total"] == before["complaints_total"] + 1
    assert after["complaints_unresolved"] == before["complaints_unresolved"] + 1
    assert after["cancel_page_views_30d"] == before["cancel_page_views_30d"] + 1
    assert after["days_since_cancel_page_view"] <= 1
