"""The Uplift page and ``/api/v1/uplift/campaigns``: stored evaluations, by role, in en/ja/ko.

Evaluations are real: :func:`assess_campaign` on a synthetic randomized campaign (2,000
customers, a planted effect on the customers with ``x0 > 0``), stored with
:func:`store_evaluation` into the app's warehouse. Also: the plan API and page name uplift
stored in ``uplift_scores``.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _app_helpers import headers, login
from fastapi.testclient import TestClient

from retain.models.uplift import TLearner
from retain.models.uplift.assess import assess_campaign
from retain.models.uplift.campaigns import CONTROL, CampaignData, Outcome
from retain.models.uplift.evaluations import store_evaluation
from retain.models.uplift.scores import store_uplift_scores

PAGE_TITLE = {"en": "Uplift: whom", "ja": "アップリフト: 過去", "ko": "업리프트: 과거"}


def _campaign(
    campaign_id: str, start: str, seed: int, outcome: Outcome = "retention"
) -> CampaignData:
    rng = np.random.default_rng(seed)
    n = 2_000
    x = rng.normal(size=(n, 2))
    treated = rng.random(n) < 0.5
    base = 0.3 + 0.1 * (x[:, 1] > 0)
    p = base + np.where(treated & (x[:, 0] > 0), 0.25, 0.0)
    y = (rng.random(n) < p).astype(np.float64)
    if outcome == "revenue":  # an amount per customer: 40 for each order
        y = y * 40.0
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "arm": np.where(treated, "treatment", CONTROL),
            "y": y,
            "x0": x[:, 0],
            "x1": x[:, 1],
        }
    )
    return CampaignData(
        campaign_id=campaign_id,
        started_at=pd.Timestamp(start),
        outcome=outcome,
        window_days=60,
        frame=frame,
        features=("x0", "x1"),
    )


@pytest.fixture
def stored(loaded_warehouse: Any) -> list[str]:
    ids = []
    for campaign_id, start, seed in (("CMP-OLD", "2024-01-01", 1), ("CMP-NEW", "2024-05-01", 2)):
        data = _campaign(campaign_id, start, seed)
        risk = data.frame["x1"].to_numpy()
        learner = TLearner(random_state=0, n_estimators=50)
        found, _ = assess_campaign(data, learner, risk=risk, n_boot=50)
        store_evaluation(loaded_warehouse, data, found, evaluated_at=pd.Timestamp("2024-06-01"))
        ids.append(campaign_id)
    return ids


def test_api_lists_and_returns_evaluations(
    stored: list[str], client: TestClient, keys: dict[str, str]
) -> None:
    listed = client.get("/api/v1/uplift/campaigns", headers=headers(keys["analyst"]))
    assert listed.status_code == 200, listed.text
    assert [c["campaign_id"] for c in listed.json()["campaigns"]] == ["CMP-NEW", "CMP-OLD"]
    one = client.get("/api/v1/uplift/campaigns/CMP-OLD", headers=headers(keys["admin"]))
    assert one.status_code == 200, one.text
    body = one.json()
    assert {p["policy"] for p in body["policies"]} == {"model", "churn_risk", "random"}
    model = next(p for p in body["policies"] if p["policy"] == "model")
    # The planted effect is on x0 > 0 only: ranking by predicted uplift beats random.
    assert model["qini_low"] > 0 and model["qini_low"] <= model["qini"] <= model["qini_high"]
    assert len(body["deciles"]) == 10 and len(body["curves"]) == 3 * 101
    assert body["summary"].startswith("Campaign CMP-OLD")
    missing = client.get("/api/v1/uplift/campaigns/NOPE", headers=headers(keys["analyst"]))
    assert missing.status_code == 404


def test_agents_get_403_on_the_api(
    stored: list[str], client: TestClient, keys: dict[str, str]
) -> None:
    for path in ("/api/v1/uplift/campaigns", "/api/v1/uplift/campaigns/CMP-NEW"):
        assert client.get(path, headers=headers(keys["agent"])).status_code == 403, path


def test_an_empty_list_says_how_to_store_one(client: TestClient, keys: dict[str, str]) -> None:
    listed = client.get("/api/v1/uplift/campaigns", headers=headers(keys["analyst"]))
    assert listed.status_code == 200
    assert listed.json()["campaigns"] == [] and "--store" in listed.json()["note"]


@pytest.mark.parametrize("role", ["analyst", "admin"])
@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_page_shows_the_newest_and_a_chosen_campaign(
    stored: list[str], client: TestClient, users: dict[str, str], lang: str, role: str
) -> None:
    login(client, users[role], lang=lang)
    page = client.get("/uplift", params={"lang": lang})
    assert page.status_code == 200, page.text[:2000]
    text = html.unescape(page.text)
    assert PAGE_TITLE[lang] in text
    assert 'data-campaign="CMP-NEW"' in text and 'href="/uplift"' in text
    assert text.count('<svg class="chart"') == 1  # one arm: one Qini chart
    assert 'data-policy="churn_risk"' in text and 'data-policy="random"' in text
    assert "<script" not in text.split("</nav>", 1)[1]
    chosen = client.get("/uplift", params={"campaign": "CMP-OLD", "lang": lang})
    assert 'data-campaign="CMP-OLD"' in html.unescape(chosen.text)


def test_agents_get_no_uplift_page(client: TestClient, users: dict[str, str]) -> None:
    login(client, users["agent"])
    assert client.get("/uplift").status_code == 403
    assert 'href="/uplift"' not in client.get("/at-risk").text


def test_plan_api_and_page_name_the_stored_uplift(
    client: TestClient, keys: dict[str, str], users: dict[str, str], loaded_warehouse: Any
) -> None:
    customers = loaded_warehouse.table("churn_scores").select("customer_id").distinct()
    ids = customers.to_pandas()["customer_id"].astype(str).tolist()
    uplift = pd.DataFrame(
        {"customer_id": ids, "action": "coupon_10", "uplift": 0.3, "uplift_honest": 0.2}
    )
    store_uplift_scores(
        loaded_warehouse, uplift, campaign_id="CMP-NEW", as_of="2024-06-30", model_version="m1"
    )
    answer = client.get("/api/v1/plan", params={"budget": 50}, headers=headers(keys["analyst"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["uplift_source"] == "history"
    assert "coupon_10: campaign CMP-NEW, model m1" in body["note"]
    assert {row["action"] for row in body["targets"]} <= {"coupon_10"}
    login(client, users["analyst"], lang="ko")
    page = html.unescape(client.get("/plan", params={"budget": "50", "lang": "ko"}).text)
    assert "업리프트 출처: coupon_10: campaign CMP-NEW" in page


def _store_revenue(con: Any) -> None:
    data = _campaign("CMP-REV", "2024-03-01", 3, outcome="revenue")
    learner = TLearner(random_state=0, n_estimators=50)
    found, _ = assess_campaign(data, learner, risk=data.frame["x1"].to_numpy(), n_boot=50)
    store_evaluation(con, data, found, evaluated_at=pd.Timestamp("2024-06-01"))


@pytest.mark.parametrize(
    ("lang", "money", "share"),
    [
        ("en", "$", "percentage points"),
        ("ja", "$", "パーセントポイント"),
        ("ko", "US$", "퍼센트포인트"),
    ],
)
def test_page_shows_revenue_uplift_as_money_and_a_rate_as_a_share(
    stored: list[str],
    loaded_warehouse: Any,
    client: TestClient,
    users: dict[str, str],
    lang: str,
    money: str,
    share: str,
) -> None:
    """A revenue campaign's uplift of ~10 per customer read '1,000.0%' (shown as a share)."""
    _store_revenue(loaded_warehouse)
    login(client, users["analyst"], lang=lang)
    text = html.unescape(client.get("/uplift", params={"campaign": "CMP-REV"}).text)
    assert 'data-unit="money"' in text
    for section in ("uplift-effects", "uplift-policies", "uplift-deciles"):
        body = text.split(f'id="{section}"')[1].split("</section>")[0]
        cells = body.split("<tbody>")[1]
        assert money in cells and "%" not in cells, section
    axis = text.split('id="uplift-curves"')[1].split("</section>")[0]
    assert money in axis and "%" not in axis.split('class="axis"', 1)[1].split("</text>")[0]
    rate = html.unescape(client.get("/uplift", params={"campaign": "CMP-OLD"}).text)
    assert 'data-unit="share"' in rate and share in rate
    effects = rate.split('id="uplift-effects"')[1].split("</section>")[0]
    assert "%" in effects.split("<tbody>")[1] and money not in effects.split("<tbody>")[1]


def test_api_names_the_unit_of_the_uplifts(
    stored: list[str], loaded_warehouse: Any, client: TestClient, keys: dict[str, str]
) -> None:
    _store_revenue(loaded_warehouse)
    revenue = client.get("/api/v1/uplift/campaigns/CMP-REV", headers=headers(keys["analyst"]))
    assert revenue.status_code == 200, revenue.text
    assert (revenue.json()["unit"], revenue.json()["currency"]) == ("money", "USD")
    rate = client.get("/api/v1/uplift/campaigns/CMP-OLD", headers=headers(keys["analyst"]))
    assert (rate.json()["unit"], rate.json()["currency"]) == ("share", None)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "Outcome window: 21 days, the playbook's own"),
        ("ja", "成果ウィンドウ: 21 日、プレイブック自身のもの"),
        ("ko", "성과 윈도: 21일, 플레이북 자체의 윈도"),
    ],
)
def test_page_and_api_say_which_outcome_window_was_used(
    stored: list[str],
    loaded_warehouse: Any,
    client: TestClient,
    users: dict[str, str],
    keys: dict[str, str],
    lang: str,
    words: str,
) -> None:
    from retain.models.uplift.evaluations import with_window

    data = _campaign("playbook:nudge", "2024-04-01", 4)
    learner = TLearner(random_state=0, n_estimators=50)
    found, _ = assess_campaign(data, learner, risk=data.frame["x1"].to_numpy(), n_boot=50)
    found = with_window(found, 21, "playbook")
    store_evaluation(loaded_warehouse, data, found, evaluated_at=pd.Timestamp("2024-06-01"))
    login(client, users["analyst"], lang=lang)
    text = html.unescape(client.get("/uplift", params={"campaign": "playbook:nudge"}).text)
    assert 'data-window="21"' in text and words in text
    older = html.unescape(client.get("/uplift", params={"campaign": "CMP-OLD"}).text)
    assert "data-window" not in older  # stored before windows were recorded: no claim
    body = client.get(
        "/api/v1/uplift/campaigns/playbook:nudge",
        params={"lang": lang},
        headers=headers(keys["analyst"]),
    ).json()
    assert (body["window_days"], body["window_basis"]) == (21, "playbook")
    assert words in body["window_note"]
    old = client.get("/api/v1/uplift/campaigns/CMP-OLD", headers=headers(keys["analyst"])).json()
    assert old["window_days"] is None and old["window_note"] is None
