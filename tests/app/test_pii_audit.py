"""JSON reads of contact details are audited like exports: an at-risk page or a customer 360 that
returns e-mail or phone writes who read how many rows and which fields (never the values);
reads without contact details write nothing, so the log stays readable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _app_helpers import assign_cases, headers

from retain.app.audit.models import AuditEntry


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture(autouse=True)
def _agent_queue(app: Any) -> None:
    """The agent key works every hand-made customer (an agent opens its queue's only)."""
    assign_cases(app, "agent-key", "c1", "c2", "c3", "c4", "c5", "c6")


def _entries(app: Any) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        return list(session.query(AuditEntry).order_by(AuditEntry.id))


def test_an_agent_page_with_contact_details_is_audited(client, keys, app):
    r = client.get(
        "/api/v1/customers/at-risk",
        headers=headers(keys["agent"]),
        params={"risk_band": ["high", "medium", "low"], "limit": 3},
    )
    assert r.status_code == 200
    [entry] = _entries(app)
    assert (entry.actor, entry.actor_kind, entry.action) == ("agent-key", "api_key", "at_risk.read")
    details = json.loads(entry.details)
    assert details["rows"] == 3 and details["fields"] == ["email", "phone"]
    assert details["definition"] == "default"
    assert "@example.com" not in entry.details and "+81" not in entry.details


def test_a_customer_read_with_contact_details_is_audited(client, keys, app):
    assert client.get("/api/v1/customers/c1", headers=headers(keys["admin"])).status_code == 200
    [entry] = _entries(app)
    assert (entry.action, entry.target_type, entry.target_id) == ("customer.read", "customer", "c1")
    assert json.loads(entry.details) == {"fields": ["email", "phone"], "rows": 1}


def test_reads_without_contact_details_are_not_audited(client, keys, app):
    analyst = headers(keys["analyst"])  # analysts see contact details masked
    assert client.get("/api/v1/customers/at-risk", headers=analyst).status_code == 200
    assert client.get("/api/v1/customers/c1", headers=analyst).status_code == 200
    assert client.get("/api/v1/customers/c1/scores", headers=headers(keys["agent"])).is_success
    empty = client.get(
        "/api/v1/customers/at-risk",
        headers=headers(keys["agent"]),
        params={"search": "nobody-matches-this"},
    )
    assert empty.status_code == 200 and empty.json()["data"] == []
    assert client.get("/api/v1/customers/nobody", headers=headers(keys["agent"])).status_code == 404
    assert _entries(app) == []


def test_the_admin_reads_the_pii_reads_in_the_audit_log(client, keys):
    client.get("/api/v1/customers/c1", headers=headers(keys["agent"]))
    log = client.get(
        "/api/v1/audit", headers=headers(keys["admin"]), params={"action": "customer.read"}
    ).json()
    assert log["count"] == 1 and log["data"][0]["details"]["fields"] == ["email", "phone"]


def test_a_repeated_page_is_audited_every_time(client, keys, app):
    """The service keeps a page it answered (and its JSON form); every read is still audited."""
    ask = {"risk_band": ["high", "medium", "low"], "limit": 2}
    agent = headers(keys["agent"])
    first = client.get("/api/v1/customers/at-risk", headers=agent, params=ask)
    again = client.get("/api/v1/customers/at-risk", headers=agent, params=ask)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    masked = client.get("/api/v1/customers/at-risk", headers=headers(keys["analyst"]), params=ask)
    assert {row["email"] for row in masked.json()["data"]} == {None}  # not the agent's page
    entries = _entries(app)
    assert [e.action for e in entries] == ["at_risk.read", "at_risk.read"]
    assert all(json.loads(e.details)["rows"] == 2 for e in entries)
