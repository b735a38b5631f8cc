"""The customer 360 you can work in: notes, tasks, calls, cases, for every kind of customer."""

from __future__ import annotations

import re

from _app_helpers import assign_cases, login

from retain.voice import savedesk

XSS = "<img src=x onerror=alert(1)>"


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text
    return found.group(1)


def test_every_customer_page_renders_with_the_work_panel(client, users, app):
    assign_cases(app, users["agent"], "c1", "c2", "c3", "c4", "c5", "c6")
    login(client, users["agent"])
    # c1..c6 cover shop customers, subscribers and customers without scores; "nobody" has nothing.
    for cid in ("c1", "c2", "c3", "c4", "c5", "c6", "nobody"):
        page = client.get(f"/customers/{cid}")
        assert page.status_code in (200, 404), (cid, page.text[:500])
        if page.status_code == 200:
            assert 'data-testid="work"' in page.text, cid


def test_notes_tasks_and_calls_land_on_the_timeline_escaped(client, users, app):
    assign_cases(app, users["agent"], "c1")
    login(client, users["agent"])
    page = client.get("/customers/c1")
    token = _csrf(page.text)
    for data in (
        {"action": "note", "text": XSS},
        {
            "action": "task",
            "text": "call back about =1+1",
            "owner": "ann@example.org",
            "due_on": "2030-01-02",
        },
        {"action": "call", "outcome": "no_answer", "text": "rang twice"},
    ):
        r = client.post("/customers/c1", data={"csrf": token, **data}, follow_redirects=False)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/customers/c1"
    page = client.get("/customers/c1").text
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "call back about =1+1" in page and "2030-01-02" in page and "ann@example.org" in page
    assert "no_answer" in page and "rang twice" in page
    task_id = re.search(r'name="task_id" value="(\d+)"', page)
    assert task_id
    client.post(
        "/customers/c1", data={"csrf": token, "action": "done", "task_id": task_id.group(1)}
    )
    assert 'data-testid="tasks"' not in client.get("/customers/c1").text
    refused = client.post("/customers/c1", data={"csrf": "wrong", "action": "note", "text": "x"})
    assert refused.status_code == 403
    assert client.get("/customers/c1").text.count('class="tl-note"') == 1


def test_an_agent_sees_only_their_own_cases_on_the_360(client, users, app):
    with app.state.sessionmaker() as session:
        savedesk.open_case(session, kind="cancellation", customer_id="c2", reason="price")
        savedesk.route(session, [savedesk.Agent("other@example.org", 5)], explore=0.0)
        session.commit()
    login(client, users["agent"])
    assert 'data-testid="case"' not in client.get("/customers/c2").text
    client.cookies.clear()
    login(client, users["admin"])
    shown = client.get("/customers/c2").text
    assert 'data-testid="case"' in shown and "discount" in shown
