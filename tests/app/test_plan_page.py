"""The plan page: form, summary with the heuristic note, lists, roles, languages."""

from __future__ import annotations

import html
from typing import Any

import pytest
from _app_helpers import login
from fastapi.testclient import TestClient

from retain.config import Settings
from retain.targeting.offers import plan_from_warehouse

HEURISTIC = {
    "en": "No campaign history",
    "ja": "キャンペーン履歴がない",
    "ko": "캠페인 이력이 없어",
}


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_plan_page_shows_the_plan(
    client: TestClient,
    users: dict[str, str],
    settings: Settings,
    loaded_warehouse: Any,
    lang: str,
) -> None:
    login(client, users["analyst"], lang=lang)
    form = client.get("/plan")
    assert form.status_code == 200
    assert 'id="budget"' in form.text
    assert 'href="/plan"' in form.text  # the nav entry
    response = client.get("/plan", params={"budget": "50", "lang": lang})
    assert response.status_code == 200, response.text[:2000]
    text = html.unescape(response.text)
    assert HEURISTIC[lang] in text
    expected = plan_from_warehouse(
        loaded_warehouse,
        budget=50,
        definition=settings.churn_definition(None).name,
        settings=settings.offers,
    )
    targets = expected.decisions[expected.decisions["status"] == "target"]
    assert len(targets) > 0
    for cid in targets["customer_id"].head(5):
        assert f'data-customer="{cid}"' in text
    left = expected.decisions[expected.decisions["status"] == "left_out"]
    assert len(left) > 0
    for cid, reason in zip(left["customer_id"].head(5), left["reason"].head(5), strict=True):
        assert f'data-customer="{cid}" data-reason="{reason}"' in text
    assert "/api/v1/plan.csv?budget=50.0" in text


def test_agents_get_no_plan(client: TestClient, users: dict[str, str]) -> None:
    login(client, users["agent"])
    response = client.get("/plan", params={"budget": "50"})
    assert response.status_code == 403
    assert 'href="/plan"' not in client.get("/at-risk").text


def test_a_bad_budget_is_explained(client: TestClient, users: dict[str, str]) -> None:
    login(client, users["analyst"])
    response = client.get("/plan", params={"budget": "lots"})
    assert response.status_code == 422
    assert "budget" in html.unescape(response.text)
