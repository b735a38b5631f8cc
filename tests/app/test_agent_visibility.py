"""Issue #20: "the agent role sees only its queue and the customers in it", on every route.

An agent (user or API key) with c1 in their save-desk queue opens c1's 360, scores, tickets and
work panel; c2 (a customer, not in the queue) answers exactly as a customer that does not exist
(404 ``customers.not_found``), lists are narrowed to the queue, and lists that cannot be
narrowed are refused. Analysts still see everyone. Closing the case takes c1 out of the queue.
"""

from __future__ import annotations

import re
from typing import Any

from _app_helpers import assign_cases, headers, login
from fastapi.testclient import TestClient

from retain.voice import savedesk
from retain.voice._case_tables import SaveDeskTask, Ticket

API = "/api/v1/customers"
EVERY_BAND = {"risk_band": ["high", "medium", "low"]}


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text
    return found.group(1)


def _open_tickets(client: TestClient, keys: dict[str, str]) -> dict[str, int]:
    body = {"records": [{"customer_id": c, "subject": f"about {c}"} for c in ("c1", "c2")]}
    made = client.post("/api/v1/tickets", json=body, headers=headers(keys["ingest"])).json()
    return {t["customer_id"]: t["id"] for t in made["accepted"]}


def test_an_agent_key_reads_only_its_queues_customers(client: Any, keys: Any, app: Any) -> None:
    assign_cases(app, "agent-key", "c1")
    agent, analyst = headers(keys["agent"]), headers(keys["analyst"])
    assert client.get(f"{API}/c1", headers=agent).status_code == 200
    assert client.get(f"{API}/c1/scores", headers=agent).status_code == 200
    outside = client.get(f"{API}/c2", headers=agent)
    absent = client.get(f"{API}/nobody", headers=agent)
    assert outside.status_code == absent.status_code == 404
    assert outside.json()["error"]["code"] == absent.json()["error"]["code"]
    assert absent.json()["error"]["code"] == "customers.not_found"
    said = outside.json()["error"]["message"].replace("c2", "nobody")
    assert said == absent.json()["error"]["message"]  # nothing tells the two apart
    assert client.get(f"{API}/c2/scores", headers=agent).status_code == 404
    assert client.get(f"{API}/c2", headers=analyst).status_code == 200  # analysts: everyone
    listed = client.get(f"{API}/at-risk", headers=agent, params=EVERY_BAND).json()["data"]
    assert {row["customer_id"] for row in listed} == {"c1"}
    everyone = client.get(f"{API}/at-risk", headers=analyst, params=EVERY_BAND).json()["data"]
    assert len(everyone) > 1
    searched = client.get(f"{API}/at-risk", headers=agent, params={**EVERY_BAND, "search": "c2"})
    assert searched.json()["data"] == []
    assert client.get(f"{API}/at-risk.csv", headers=agent).status_code == 403
    ids = _open_tickets(client, keys)
    assert client.get(f"/api/v1/tickets/{ids['c1']}", headers=agent).status_code == 200
    assert client.get(f"/api/v1/tickets/{ids['c2']}", headers=agent).status_code == 404
    moved = client.post(
        f"/api/v1/tickets/{ids['c2']}/stage", json={"stage": "investigating"}, headers=agent
    )
    assert moved.status_code == 404
    with app.state.sessionmaker() as session:
        assert session.get(Ticket, ids["c2"]).stage == "received"  # nothing moved


def test_an_agent_user_works_only_its_queues_customers(
    client: Any, users: Any, keys: Any, app: Any
) -> None:
    ids = _open_tickets(client, keys)
    assign_cases(app, users["agent"], "c1")
    login(client, users["agent"])
    page = client.get("/customers/c1")
    assert page.status_code == 200
    token = _csrf(page.text)
    assert client.get("/customers/c2").status_code == 404
    note = client.post("/customers/c2", data={"csrf": token, "action": "note", "text": "x"})
    assert note.status_code == 404
    listed = client.get("/at-risk", params=EVERY_BAND).text
    assert 'href="/customers/c1"' in listed and 'href="/customers/c2"' not in listed
    tickets = client.get("/tickets").text
    assert f'href="/tickets/{ids["c1"]}"' in tickets
    assert f'href="/tickets/{ids["c2"]}"' not in tickets
    assert client.get(f"/tickets/{ids['c2']}").status_code == 404
    acted = client.post(
        f"/tickets/{ids['c2']}", data={"csrf": token, "action": "note", "text": "x"}
    )
    assert acted.status_code == 404
    opened = client.post("/tickets", data={"csrf": token, "customer_id": "c2", "subject": "x"})
    assert opened.status_code == 404
    movers = client.get("/segments/movement/2024-05-31/2024-06-30/champions/at_risk")
    assert movers.status_code == 403
    # the case closed, c1 leaves the queue and the agent's reach
    with app.state.sessionmaker() as session:
        case = session.query(SaveDeskTask).filter_by(customer_id="c1").one()
        savedesk.record_outcome(session, case, "saved")
        session.commit()
    assert client.get("/customers/c1").status_code == 404
