"""The plan's 95 % interval on the dashboard and the API, from measured stored uplift (#18).

``retain uplift score --store`` and the demo pipeline store each customer's measured group and
its variance; the page (/plan) and ``GET /api/v1/plan`` then print the interval in the reader's
language, the same numbers the library computes.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import pytest
from _app_helpers import headers, login
from fastapi.testclient import TestClient

from retain.config import Settings
from retain.models.uplift.scores import store_uplift_scores
from retain.targeting.offers import plan_from_warehouse, planning_customers

INTERVAL = {
    "en": "95 % interval of that profit:",
    "ja": "この利益の 95 % 区間:",
    "ko": "이 이익의 95 % 구간:",
}


@pytest.fixture
def measured(loaded_warehouse: Any, settings: Settings) -> Any:
    """Every customer's uplift for the first configured action, measured in two groups."""
    line = settings.churn_definition(None).name
    ids = planning_customers(loaded_warehouse, definition=line)["customer_id"].astype(str)
    action = settings.offers.candidate_actions()[0].name
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "action": action,
            "uplift": 0.3,
            "uplift_honest": 0.2,
            "honest_group": [f"{action}/0/{i % 2}" for i in range(len(ids))],
            "honest_variance": 0.0004,
        }
    )
    store_uplift_scores(loaded_warehouse, frame, campaign_id="CMP-04", as_of="2024-06-30")
    return loaded_warehouse


def test_the_api_reports_the_interval(
    client: TestClient, keys: dict[str, str], settings: Settings, measured: Any
) -> None:
    response = client.get("/api/v1/plan", params={"budget": 50}, headers=headers(keys["analyst"]))
    assert response.status_code == 200, response.text
    body = response.json()
    expected = plan_from_warehouse(
        measured,
        budget=50,
        definition=settings.churn_definition(None).name,
        settings=settings.offers,
    )
    low, high = expected.summary.profit_low, expected.summary.profit_high
    assert body["uplift_source"] == "history" and low is not None and high is not None
    assert low < body["summary"]["expected_profit"] < high
    assert body["summary"]["profit_low"] == pytest.approx(low)
    assert body["summary"]["profit_high"] == pytest.approx(high)
    assert any(line.startswith(INTERVAL["en"]) for line in body["lines"])
    csv = client.get(
        "/api/v1/plan.csv", params={"budget": 50}, headers=headers(keys["analyst"])
    ).text
    assert "plan_profit_low" in csv.splitlines()[0]


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_the_page_shows_the_interval(
    client: TestClient, users: dict[str, str], measured: Any, lang: str
) -> None:
    login(client, users["analyst"], lang=lang)
    response = client.get("/plan", params={"budget": "50", "lang": lang})
    assert response.status_code == 200, response.text[:2000]
    text = html.unescape(response.text)
    assert INTERVAL[lang] in text
    assert "No 95 %" not in text
