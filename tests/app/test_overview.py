"""The overview per business line (issue #16 items 2, 4 and 5): a shop line counts orders, a
subscription-only business (Telco) gets churn, retention and MRR from its subscriptions, a line
selector, and cards that say their line, period, previous period, change and definition, in
en/ja/ko."""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd
import pytest
from _app_helpers import login
from fastapi.testclient import TestClient

import retain.warehouse as wh
from retain.app.auth import service as auth
from retain.app.main import create_app
from retain.config import ChurnDefinition, Settings

ADMIN = "a@example.org"
PASSWORD = "long enough password"

# Ten subscribers from January 2024; two leave in March, one in May: live at the end of each
# month 10, 10, 8, 8, 7, so May's churn is 1/8 = 12.5 % against April's 0 %.
SUBS = pd.DataFrame(
    {
        "subscription_id": [f"s{i}" for i in range(10)],
        "customer_id": [f"t{i}" for i in range(10)],
        "plan": ["basic"] * 10,
        "started_at": pd.to_datetime(["2024-01-10"] * 10),
        "ended_at": pd.to_datetime(["2024-03-15", "2024-03-20", "2024-05-01"] + [None] * 7),
        "billing_period": ["month"] * 10,
        "amount": [10.0] * 10,
        "currency": ["USD"] * 10,
    }
)


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


def _browser(settings: Settings, warehouse: Any, lines: list[ChurnDefinition]) -> TestClient:
    app = create_app(
        settings.model_copy(update={"churn": lines}), warehouse=warehouse, migrate=True
    )
    with app.state.sessionmaker() as session:
        auth.create_user(session, email=ADMIN, role="admin", password=PASSWORD)
        session.commit()
    return TestClient(app)


def _card(page: str, key: str) -> str:
    found = re.search(rf'<article class="kpi card" data-kpi="{key}".*?</article>', page, re.S)
    assert found, f"no {key} card"
    return html.unescape(found.group(0))


@pytest.fixture
def telco(settings: Settings, warehouse: Any) -> Any:
    """Only subscriptions loaded, one contractual line: the Telco shape."""
    wh.write_table(warehouse, "subscriptions", SUBS, mode="append")
    lines = [ChurnDefinition(name="telco", kind="contractual", horizon_days=30)]
    with _browser(settings, warehouse, lines) as browser:
        yield browser


def test_subscription_only_business_gets_churn_from_its_subscriptions(telco: TestClient) -> None:
    login(telco, ADMIN, password=PASSWORD)
    page = telco.get("/").text
    assert "No orders yet" not in page and "retain ingest orders" not in page
    churn = _card(page, "churn_rate")
    assert "12.5%" in churn and "May 2024" in churn
    assert "Previous (Apr 2024): 0.0%" in churn and "+12.5 pt" in churn
    assert 'data-line="telco"' in churn and "line telco" in churn
    active = _card(page, "active")
    assert ">7<" in active and "Previous (Apr 2024): 8" in active and "−12.5%" in active
    assert "$70.00" in _card(page, "mrr")
    assert "a paid subscription live at the end of the month" in page
    retention = telco.get("/retention").text
    assert "No orders yet" not in retention and "Cohort heatmap" in retention
    api = telco.get("/api/v1/metrics/overview").json()
    assert api["line"] == "telco" and api["activity"] == "subscriptions"
    assert "orders" not in api["missing"]
    periods = telco.get("/api/v1/metrics/periods?definition=telco").json()["data"]
    assert [p["lost_customers"] for p in periods] == [0, 0, 2, 0, 1]


def test_date_range_bounds_the_months(telco: TestClient) -> None:
    login(telco, ADMIN, password=PASSWORD)
    page = telco.get("/?start=2024-02-01&end=2024-03-31").text
    churn = _card(page, "churn_rate")
    assert "Mar 2024" in churn and "20.0%" in churn and "Previous (Feb 2024): 0.0%" in churn
    assert 'value="2024-02-01"' in page and 'value="2024-03-31"' in page
    assert telco.get("/?start=tomorrow").status_code == 400
    assert telco.get("/?definition=nope").status_code == 400
    refused = telco.get("/api/v1/metrics/overview?definition=nope")
    assert refused.status_code == 422  # the same error as the at-risk list's, naming the lines
    assert refused.json()["error"]["code"] == "parameter.definition"
    assert "'nope'" in refused.json()["error"]["message"]


def test_shop_line_counts_orders_and_cards_explain_themselves(client: Any, users: Any) -> None:
    login(client, users["admin"])
    page = client.get("/").text
    assert '<option value="default" selected>default</option>' in page
    assert "their completed orders" in page
    for key in ("churn_rate", "retention_rate", "strict_retention_rate", "active"):
        card = _card(page, key)
        assert re.search(r'title="[^"]{20,}"', card), key  # the definition on hover
        assert "<details" in card and "What is this?" in card
        assert "Previous (" in card and "line default" in card
    spark = _card(page, "churn_rate")
    assert 'class="spark-y"' in spark and 'class="spark-x"' in spark
    assert "<script" not in page.split("</main>")[0].split("<main")[-1]


def test_line_selector_switches_every_number_and_the_at_risk_link(
    settings: Settings, loaded_warehouse: Any
) -> None:
    lines = [
        ChurnDefinition(name="default"),
        ChurnDefinition(name="subscription", kind="contractual", plans=["gold"]),
    ]
    with _browser(settings, loaded_warehouse, lines) as browser:
        login(browser, ADMIN, password=PASSWORD)
        shop = browser.get("/").text
        assert 'data-kpi="mrr"' not in shop  # MRR belongs to the contractual line
        link = re.search(r'href="(/at-risk\?[^"]+)"', shop)
        assert link and "definition=default" in link.group(1)
        subs = browser.get("/?definition=subscription").text
        assert '<option value="subscription" selected>subscription</option>' in subs
        assert 'data-kpi="mrr"' in subs and 'data-line="subscription"' in subs
        assert "definition=default" not in subs  # no scores for this line: no link to another
        assert "a paid subscription live at the end of the month" in subs


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("Business line", "Previous (Apr 2024)", "What is this?", "From")),
        ("ja", ("事業ライン", "前期（2024年4月）", "この指標とは", "開始日")),
        ("ko", ("사업 라인", "이전(2024년 4월)", "이 지표는?", "시작일")),
    ],
)
def test_overview_reads_in_each_language(
    telco: TestClient, lang: str, words: tuple[str, ...]
) -> None:
    login(telco, ADMIN, password=PASSWORD, lang=lang)
    page = html.unescape(telco.get(f"/?lang={lang}").text)
    for word in words:
        assert word in page, word
    assert "web." not in re.sub(r"<[^>]+>", "", page)  # no raw message keys
