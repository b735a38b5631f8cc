"""``/api/v1/plan``: the plan of the service's business, by role, and its audited CSV."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
from _app_helpers import headers
from fastapi.testclient import TestClient
from sqlalchemy import select

from retain.app.audit.models import AuditEntry
from retain.config import Settings
from retain.targeting.offers import plan_from_warehouse


def test_analyst_gets_the_library_plan(
    client: TestClient, keys: dict[str, str], settings: Settings, loaded_warehouse: Any
) -> None:
    response = client.get("/api/v1/plan", params={"budget": 50}, headers=headers(keys["analyst"]))
    assert response.status_code == 200, response.text
    body = response.json()
    expected = plan_from_warehouse(
        loaded_warehouse,
        budget=50,
        definition=settings.churn_definition(None).name,
        settings=settings.offers,
    )
    assert body["uplift_source"] == "heuristic"
    assert body["note"].startswith("No campaign history")
    assert body["total_targets"] == expected.summary.targets
    assert body["summary"]["total_cost"] <= 50 + 1e-6
    assert body["summary"]["expected_profit"] == expected.summary.expected_profit
    got = [row["customer_id"] for row in body["targets"]]
    want = expected.decisions.loc[expected.decisions["status"] == "target", "customer_id"]
    assert got == want.head(100).tolist()
    assert {row["reason_label"] for row in body["left_out"]} <= {
        "Would stay anyway",
        "Not worth the cost",
        "Unlikely to respond",
        "Over capacity",
        "Over budget",
        "Held out to measure the plan",
    }


def test_japanese_lines(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get(
        "/api/v1/plan",
        params={"budget": 50},
        headers=headers(keys["analyst"], **{"Accept-Language": "ja"}),
    )
    assert response.status_code == 200
    assert "キャンペーン履歴がない" in response.json()["note"]


def test_agents_do_not_see_the_plan(client: TestClient, keys: dict[str, str]) -> None:
    for path in ("/api/v1/plan", "/api/v1/plan.csv"):
        response = client.get(path, params={"budget": 50}, headers=headers(keys["agent"]))
        assert response.status_code == 403, path


def test_bad_budget_is_422(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/api/v1/plan", params={"budget": -1}, headers=headers(keys["analyst"]))
    assert response.status_code == 422


def test_csv_export_is_audited(client: TestClient, keys: dict[str, str], app: Any) -> None:
    response = client.get(
        "/api/v1/plan.csv", params={"budget": 50}, headers=headers(keys["analyst"])
    )
    assert response.status_code == 200, response.text
    frame = pd.read_csv(io.StringIO(response.text))
    assert set(frame["uplift_source"]) == {"heuristic"}
    assert {"customer_id", "status", "action", "reason", "expected_profit"} <= set(frame.columns)
    with app.state.sessionmaker() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "plan.export")
        ).all()
    assert len(entries) == 1
    assert json.loads(entries[0].details)["rows"] == len(frame)


def test_an_unknown_business_line_is_422_naming_the_known_ones(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Found by the schemathesis run: ``definition=`` (empty) answered 500 (config.invalid)."""
    for path in ("/api/v1/plan", "/api/v1/plan.csv"):
        for name in ("", "nope"):
            response = client.get(
                path, params={"budget": 50, "definition": name}, headers=headers(keys["analyst"])
            )
            assert response.status_code == 422, (path, name, response.text)
            assert "default" in response.json()["error"]["message"]
