"""``/api/v1/playbooks``: the book, a dry run matching ``decide``, results, roles, audited CSV."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pandas as pd
from _app_helpers import headers
from fastapi.testclient import TestClient
from sqlalchemy import select

from retain.app.audit.models import AuditEntry
from retain.engage.decisions import decide
from retain.engage.playbooks import shipped_playbooks
from retain.features import Sources

WHEN = "2024-09-30"


def test_analyst_lists_the_shipped_book(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/api/v1/playbooks", headers=headers(keys["analyst"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["name"] for p in body["playbooks"]] == [p.name for p in shipped_playbooks().playbooks]
    winback = next(p for p in body["playbooks"] if p["name"] == "winback-60")
    assert winback["trigger"]["kind"] == "inactive" and winback["holdout"] == 0.2
    assert winback["goal"]["target"] == 0.08


def test_dry_run_is_what_decide_says_and_writes_nothing(
    client: TestClient, keys: dict[str, str], app: Any, loaded_warehouse: Any
) -> None:
    want = decide(shipped_playbooks(), Sources.from_warehouse(loaded_warehouse), WHEN)
    assert len(want) > 0
    response = client.get(
        "/api/v1/playbooks/dry-run", params={"as_of": WHEN}, headers=headers(keys["analyst"])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_decisions"] == len(want)
    got = {(d["playbook"], d["customer_id"], d["status"], d["reason"]) for d in body["decisions"]}
    expected = {
        (r.playbook, r.customer_id, r.status, None if pd.isna(r.reason) else r.reason)
        for r in want.itertuples()
    }
    assert got == expected
    found = {s["playbook"]: s["found"] for s in body["summary"]}
    assert found == want.groupby("playbook").size().to_dict()
    sent = [d for d in body["decisions"] if d["status"] in ("send", "delayed")]
    assert all(d["subject"] for d in sent)
    from retain.engage._tables import OutboxMessage

    with app.state.sessionmaker() as session:
        assert session.scalars(select(OutboxMessage)).first() is None


def test_one_playbook_and_an_unknown_one(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get(
        "/api/v1/playbooks/dry-run",
        params={"as_of": WHEN, "name": "winback-60"},
        headers=headers(keys["analyst"]),
    )
    assert response.status_code == 200, response.text
    assert {d["playbook"] for d in response.json()["decisions"]} <= {"winback-60"}
    response = client.get(
        "/api/v1/playbooks/dry-run",
        params={"as_of": WHEN, "name": "nope"},
        headers=headers(keys["analyst"]),
    )
    assert response.status_code in (400, 404, 422), response.text
    assert "winback-60" in json.dumps(response.json())


def test_agents_never_see_the_book(client: TestClient, keys: dict[str, str]) -> None:
    for path in (
        "/api/v1/playbooks",
        "/api/v1/playbooks/dry-run",
        "/api/v1/playbooks/dry-run.csv",
        "/api/v1/playbooks/winback-60/results",
    ):
        response = client.get(path, headers=headers(keys["agent"]))
        assert response.status_code == 403, path


def test_dry_run_csv_is_audited(client: TestClient, keys: dict[str, str], app: Any) -> None:
    response = client.get(
        "/api/v1/playbooks/dry-run.csv", params={"as_of": WHEN}, headers=headers(keys["analyst"])
    )
    assert response.status_code == 200, response.text
    frame = pd.read_csv(io.StringIO(response.text))
    assert {"playbook", "customer_id", "status", "reason", "subject"} <= set(frame.columns)
    with app.state.sessionmaker() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "playbooks.export")
        ).all()
    assert len(entries) == 1
    assert json.loads(entries[0].details)["rows"] == len(frame) > 0


def test_results_of_a_past_campaign(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get(
        "/api/v1/playbooks/spring/results",
        params={"as_of": (dt.date(2025, 1, 1)).isoformat()},
        headers=headers(keys["analyst"]),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["playbook"] == "spring" and body["customers"] == 1
    assert body["variants"][0]["treated"]["customers"] == 1
    assert body["variants"][0]["holdout"]["customers"] == 0
    missing = client.get("/api/v1/playbooks/nobody/results", headers=headers(keys["analyst"]))
    assert missing.status_code == 404


def test_an_impossible_date_is_422_not_500(client: TestClient, keys: dict[str, str]) -> None:
    """Found by schemathesis: 6800-23-67T49:04 fits the date pattern, and fromisoformat raised."""
    for path in ("/api/v1/playbooks/dry-run", "/api/v1/playbooks/dry-run.csv"):
        response = client.get(
            path, params={"as_of": "2024-13-45"}, headers=headers(keys["analyst"])
        )
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "parameter.as_of"
