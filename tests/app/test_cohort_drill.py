"""Cohorts, lifecycle and survival by segment in the API and on the retention page, and the
drill-down from a cohort cell to its customers (#16 items 3 and 11), in en/ja/ko.

Orders: a and b first buy in January 2024 (b again in February, a in March), c and d in
February (d again in April); c's second order is returned. Customers: a JP (tier gold), b KR
(tier gold), c JP; d has no customer row. The shop line churns after 30 days without activity.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _app_helpers import login
from fastapi.testclient import TestClient

import retain.warehouse as wh
from retain.app.audit import service as audit
from retain.app.auth import service as auth
from retain.app.main import create_app
from retain.config import ChurnDefinition, Settings

PASSWORD = "correct horse battery"
ORDERS = [
    ("a", "2024-01-05", 10.0, "completed"),
    ("a", "2024-03-20", 20.0, "completed"),
    ("b", "2024-01-10", 5.0, "completed"),
    ("b", "2024-02-02", 5.0, "completed"),
    ("c", "2024-02-01", 7.0, "completed"),
    ("c", "2024-02-15", 1.0, "returned"),
    ("d", "2024-02-09", 2.0, "completed"),
    ("d", "2024-04-30", 4.0, "completed"),
]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Any]]:
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(ORDERS))],
            "customer_id": [r[0] for r in ORDERS],
            "ordered_at": pd.to_datetime([r[1] for r in ORDERS]),
            "amount": [r[2] for r in ORDERS],
            "status": [r[3] for r in ORDERS],
        }
    )
    wh.write_table(con, "orders", orders, mode="append")
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "country": ["JP", "KR", "JP"],
            "email": ["a@example.org", "=cmd|b@example.org", None],
            "attributes": ['{"tier": "gold"}', '{"tier": "gold"}', None],
        }
    )
    wh.write_table(con, "customers", customers, mode="append")
    subs = pd.DataFrame(
        {
            "subscription_id": ["s1", "s2", "s3"],
            "customer_id": ["a", "b", "c"],
            "plan": ["basic", "basic", "pro"],
            "started_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
            "ended_at": pd.to_datetime(["2024-03-01", None, "2024-04-01"]),
            "billing_period": ["month"] * 3,
            "amount": [10.0] * 3,
            "currency": ["USD"] * 3,
        }
    )
    wh.write_table(con, "subscriptions", subs, mode="append")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        models_dir=tmp_path / "models",
        churn=[
            ChurnDefinition(name="shop", horizon_days=30),
            ChurnDefinition(name="subs", kind="contractual"),
        ],
    )
    application = create_app(settings, warehouse=con, migrate=True)
    keys: dict[str, dict[str, str]] = {}
    with application.state.sessionmaker() as session:
        for role in ("analyst", "agent", "admin"):
            _, raw = auth.create_api_key(session, name=role, role=role, created_by="tests")
            keys[role] = {"X-API-Key": raw}
            auth.create_user(session, email=f"{role}@example.org", role=role, password=PASSWORD)
        session.commit()
    with TestClient(application) as client:
        yield client, keys, application
    con.disconnect()


API = "/api/v1/metrics"


def test_cohorts_and_lifecycle_by_segment_in_the_api(app: Any) -> None:
    client, keys, _ = app
    answer = client.get(f"{API}/cohorts?by=country", headers=keys["analyst"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["by"] == ["country"]
    jp_jan = [
        r["active"] for r in body["data"] if r["country"] == "JP" and r["cohort"][:7] == "2024-01"
    ]
    assert jp_jan == [1, 0, 1, 0]
    tier = client.get(f"{API}/lifecycle?by=tier&definition=shop", headers=keys["analyst"])
    assert tier.status_code == 200, tier.text
    assert tier.json()["horizon_days"] == 30
    assert {r["tier"] for r in tier.json()["data"]} == {"gold", None}
    for path in ("cohorts", "lifecycle", "survival"):
        bad = client.get(f"{API}/{path}?by=nosuch", headers=keys["analyst"])
        assert bad.status_code == 422, (path, bad.text)
        assert "country" in bad.text and "tier" in bad.text, path
    assert client.get(f"{API}/cohorts", headers=keys["agent"]).status_code == 403


def test_shop_and_subscriber_survival_in_the_api(app: Any) -> None:
    client, keys, _ = app
    shop = client.get(f"{API}/survival?unit=day&by=country", headers=keys["analyst"])
    assert shop.status_code == 200, shop.text
    body = shop.json()
    assert (body["kind"], body["horizon_days"]) == ("non_contractual", 30)
    assert "30" in body["rule"]
    summary = {r["country"]: r for r in body["summary"]}
    # a: churned 02-04 (01-05 + 30, the March order comes later); b 03-03; c 03-02; d 03-10
    assert summary["JP"]["customers"] == 2 and summary["JP"]["churned"] == 2
    assert summary[None]["churned"] == 1
    medians = {r["country"]: r["median_lifetime"] for r in body["summary"]}
    assert medians["KR"] == 53  # 01-10 to 03-03
    assert body["logrank"] is not None
    assert {"ci_lower", "ci_upper", "at_risk"} <= set(body["curves"][0])
    subs = client.get(f"{API}/survival?definition=subs&by=plan", headers=keys["analyst"])
    assert subs.status_code == 200, subs.text
    assert subs.json()["kind"] == "contractual"
    assert {r["plan"] for r in subs.json()["summary"]} == {"basic", "pro"}
    ja = client.get(f"{API}/survival?lang=ja", headers=keys["analyst"]).json()
    assert "解約" in ja["rule"]
    for query in ("unit=year", "as_of=tomorrow", "definition=nosuch"):
        assert client.get(f"{API}/survival?{query}", headers=keys["analyst"]).status_code == 422


def test_every_cell_drills_down_to_as_many_customers_as_it_counts(app: Any) -> None:
    client, keys, _ = app
    for query in ("", "by=country&", "mode=unbounded&", "definition=subs&"):
        cells = client.get(f"{API}/cohorts?{query}", headers=keys["analyst"]).json()["data"]
        assert cells
        for cell in cells:
            params = {
                "cohort": cell["cohort"][:10],
                "period_index": cell["period_index"],
                **dict(p.split("=") for p in query.strip("&").split("&") if p),
            }
            if "country" in cell and cell["country"] is not None:
                params["group"] = cell["country"]
            found = client.get(f"{API}/cohorts/customers", params=params, headers=keys["analyst"])
            assert found.status_code == 200, found.text
            assert found.json()["total"] == cell["active"], (query, cell)
    feb = client.get(
        f"{API}/cohorts/customers?cohort=2024-01-01&period_index=1", headers=keys["analyst"]
    ).json()
    assert [r["customer_id"] for r in feb["data"]] == ["b"]
    assert feb["data"][0]["country"] == "KR" and "email" not in feb["data"][0]
    paged = client.get(
        f"{API}/cohorts/customers?cohort=2024-01-01&period_index=0&limit=1&offset=1",
        headers=keys["analyst"],
    ).json()
    assert (paged["total"], [r["customer_id"] for r in paged["data"]]) == (2, ["b"])
    for bad in (
        "cohort=2024-01-15&period_index=0",
        "cohort=2024-01-01&period_index=-1",
        "cohort=Jan&period_index=0",
        "cohort=2024-01-01&period_index=0&limit=100000",
        "cohort=2024-01-01&period_index=0&by=nosuch",
    ):
        answer = client.get(f"{API}/cohorts/customers?{bad}", headers=keys["analyst"])
        assert answer.status_code == 422, (bad, answer.text)


def test_cell_export_is_audited_neutralised_and_only_for_exporters(app: Any) -> None:
    client, keys, application = app
    url = f"{API}/cohorts/customers.csv?cohort=2024-01-01&period_index=0"
    assert client.get(url, headers=keys["agent"]).status_code == 403
    analyst = client.get(url, headers=keys["analyst"])
    assert analyst.status_code == 200, analyst.text
    rows = list(csv.DictReader(io.StringIO(analyst.text)))
    assert [r["customer_id"] for r in rows] == ["a", "b"]
    assert "email" not in rows[0]  # analysts do not see contact details
    admin = list(csv.DictReader(io.StringIO(client.get(url, headers=keys["admin"]).text)))
    assert admin[1]["email"] == "'=cmd|b@example.org"  # a formula shown as text
    with application.state.sessionmaker() as session:
        entries, total = audit.list_entries(session, action="cohort.export")
    assert total == 2
    details = json.loads(entries[0].details)
    assert details["rows"] == 2 and details["fields"] == ["email", "phone"]
    assert details["cohort"] == "2024-01-01"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("Survival", "Customers of a cohort", "Churned")),
        ("ja", ("生存曲線", "コホートの顧客", "解約")),
        ("ko", ("생존 곡선", "코호트의 고객", "이탈")),
    ],
)
def test_retention_page_links_cells_to_their_customers(
    app: Any, lang: str, words: tuple[str, str, str]
) -> None:
    client, _, application = app
    login(client, "analyst@example.org", PASSWORD, lang=lang)
    page = client.get(f"/retention?lang={lang}&by=country")
    assert page.status_code == 200, page.text
    assert words[0] in page.text and 'data-note="survival"' in page.text
    assert 'data-stage="churned"' in page.text  # lifecycle, split by country
    assert '<option value="tier">' in page.text  # attribute keys are offered
    links = re.findall(r'href="(/retention/cohort\?[^"]+)"', page.text)
    assert links
    link = next(u for u in links if "group=KR" in u and "period_index=1" in u)
    drill = client.get(link.replace("&amp;", "&"))
    assert drill.status_code == 200, drill.text
    assert words[1] in drill.text
    assert 'data-total="1"' in drill.text and 'href="/customers/b"' in drill.text
    export = re.search(r'href="(/retention/cohort\.csv\?[^"]+)"', drill.text)
    assert export
    got = client.get(export.group(1).replace("&amp;", "&"))
    assert got.status_code == 200 and got.text.splitlines()[1].startswith("b,")
    with application.state.sessionmaker() as session:
        assert audit.list_entries(session, action="cohort.export")[1] == 1
    shop = client.get(f"/retention?lang={lang}")
    assert words[2] in shop.text
    subs = client.get(f"/retention?lang={lang}&definition=subs&by=country")
    assert subs.status_code == 200, subs.text  # subscribers: survival of their subscriptions
    assert 'data-note="survival"' in subs.text and "definition=subs" in subs.text
    assert client.get("/retention?by=nosuch").status_code == 422
    assert client.get("/retention?by=bad-name").status_code == 400
    assert client.get("/retention/cohort?cohort=2024-01-01&period_index=x").status_code == 400


def test_agents_may_not_open_the_drill_down(app: Any) -> None:
    client, _, _ = app
    login(client, "agent@example.org", PASSWORD)
    assert client.get("/retention/cohort?cohort=2024-01-01&period_index=0").status_code == 403
    assert client.get("/retention/cohort.csv?cohort=2024-01-01&period_index=0").status_code == 403
