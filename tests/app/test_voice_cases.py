"""Complaints over HTTP: the API, the dashboard pages, the save desk, the status page."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from _app_helpers import assign_cases, headers, login
from markupsafe import escape
from sqlalchemy import select

from retain.app.audit.models import AuditEntry
from retain.engage._tables import OutboxMessage
from retain.i18n import language, t
from retain.voice import savedesk, tickets
from retain.voice._case_tables import SaveDeskTask
from retain.voice._survey_tables import CancellationRecord

XSS = "<script>alert('x')</script>"
FORMULA = '=HYPERLINK("http://evil")'


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text
    return found.group(1)


def test_api_opens_tickets_with_per_record_errors_and_moves_them(client, keys, app):
    assign_cases(app, "agent-key", "c1")
    body = {
        "records": [
            {"customer_id": "c1", "subject": "late", "email": "c1@example.com", "ticket_id": "Z1"},
            {"customer_id": "c2", "subject": " "},
        ]
    }
    r = client.post("/api/v1/tickets", json=body, headers=headers(keys["ingest"]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert [e["index"] for e in out["errors"]] == [0 + 1]
    ticket_id = out["accepted"][0]["id"]
    again = client.post("/api/v1/tickets", json=body, headers=headers(keys["ingest"])).json()
    assert again["accepted"][0]["id"] == ticket_id  # idempotent on ticket_id
    bad = client.post(
        f"/api/v1/tickets/{ticket_id}/stage",
        json={"stage": "closed"},
        headers=headers(keys["agent"]),
    )
    assert bad.status_code == 422
    ok = client.post(
        f"/api/v1/tickets/{ticket_id}/stage",
        json={"stage": "investigating", "message": "on it"},
        headers=headers(keys["agent"]),
    )
    assert ok.status_code == 200 and ok.json()["stage"] == "investigating"
    assert (
        client.get(f"/api/v1/tickets/{ticket_id}", headers=headers(keys["analyst"])).json()["stage"]
        == "investigating"
    )
    with app.state.sessionmaker() as session:
        mails = session.scalars(select(OutboxMessage)).all()
    assert len(mails) == 2
    # Each e-mail carries a working status link under the public URL.
    body = json.loads(mails[1].payload)["body"]
    found = re.search(r"http://127\.0\.0\.1:8000(/t/\S+)", body)
    assert found and "on it" in body
    status = client.get(found.group(1))
    assert status.status_code == 200 and "Investigating" in status.text
    denied = client.post("/api/v1/tickets", json=body, headers=headers(keys["analyst"]))
    assert denied.status_code == 403


def test_dashboard_ticket_escapes_text_and_the_status_link_works_once_signed(client, users, app):
    assign_cases(app, users["agent"], "c1")
    login(client, users["agent"])
    page = client.get("/tickets")
    assert page.status_code == 200
    made = client.post(
        "/tickets",
        data={
            "csrf": _csrf(page.text),
            "customer_id": "c1",
            "subject": XSS,
            "body": FORMULA,
            "language": "ko",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    detail = client.get(made.headers["location"])
    assert XSS not in detail.text and "&lt;script&gt;" in detail.text
    token = _csrf(detail.text)
    client.post(
        made.headers["location"],
        data={"csrf": token, "action": "note", "text": "secret internal " + XSS},
    )
    client.post(
        made.headers["location"],
        data={"csrf": token, "action": "move", "stage": "investigating", "text": "확인 중"},
    )
    link = re.search(
        r'data-testid="status-link">([^<]+)<', client.get(made.headers["location"]).text
    )
    assert link
    client.cookies.clear()  # the customer has no login
    status = client.get(link.group(1))
    assert status.status_code == 200
    assert "조사 중" in status.text and "확인 중" in status.text
    assert "secret internal" not in status.text and XSS not in status.text
    forged = link.group(1)[:-2] + ("AA" if not link.group(1).endswith("AA") else "BB")
    assert client.get(forged).status_code == 410
    with app.state.sessionmaker() as session:
        secret_url = link.group(1)
        ticket_id = int(secret_url.split("/t/")[1].split(".")[0])
        expired_at = dt.datetime(2020, 1, 1)
        # A genuine signature that has run out: refused like a forgery.
        from retain.app.voice_cases.router import status_secret

        class _Req:
            app = client.app

        expired = tickets.sign_status_token(status_secret(_Req, session), ticket_id, expired_at)
    r = client.get(f"/t/{expired}")
    assert r.status_code == 410 and "확인 중" not in r.text


def test_agents_see_only_their_queue_and_record_outcomes(client, users, app):
    with app.state.sessionmaker() as session:
        for i, cid in enumerate(("c1", "c2", "c3")):
            savedesk.open_case(
                session, kind="cancellation", customer_id=cid, reason=XSS if i else "price"
            )
        savedesk.route(
            session,
            [savedesk.Agent(users["agent"], 1), savedesk.Agent("other@example.org", 5)],
            explore=0.0,
        )
        session.commit()
        mine = savedesk.queue_of(session, users["agent"])
        theirs = savedesk.queue_of(session, "other@example.org")
    assert len(mine) == 1 and len(theirs) == 2
    login(client, users["agent"])
    page = client.get("/savedesk")
    assert page.status_code == 200
    assert f"/customers/{mine[0].customer_id}" in page.text
    assert all(f'/customers/{t.customer_id}"' not in page.text for t in theirs)
    assert XSS not in page.text
    token = _csrf(page.text)
    refused = client.post(f"/savedesk/{theirs[0].id}", data={"csrf": token, "result": "saved"})
    assert refused.status_code == 403
    done = client.post(
        f"/savedesk/{mine[0].id}",
        data={"csrf": token, "result": "saved", "offer": "discount"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with app.state.sessionmaker() as session:
        row = session.get(SaveDeskTask, mine[0].id)
        assert row is not None and (row.outcome, row.outcome_offer) == ("saved", "discount")
    assert client.post("/savedesk-route", data={"csrf": token}).status_code == 403
    client.cookies.clear()
    login(client, users["analyst"])
    manager = client.get("/savedesk")
    assert 'data-testid="rates"' in manager.text and users["agent"] in manager.text


def test_rates_api_reports_wilson_intervals(client, keys, app):
    with app.state.sessionmaker() as session:
        for cid in ("c1", "c2", "c3", "c4"):
            savedesk.open_case(session, kind="cancellation", customer_id=cid, reason="price")
        savedesk.route(session, [savedesk.Agent("ann@example.org", 9)], explore=0.0)
        for i, task in enumerate(savedesk.queue_of(session, "ann@example.org")):
            savedesk.record_outcome(session, task, "saved" if i else "cancelled")
        session.commit()
    r = client.get("/api/v1/savedesk/rates?by=agent", headers=headers(keys["analyst"]))
    assert r.status_code == 200, r.text
    (row,) = r.json()["rates"]
    assert (row["group"], row["cases"], row["saved"]) == ("ann@example.org", 4, 3)
    assert (row["ci_low"], row["ci_high"]) == savedesk.wilson(3, 4)
    assert client.get("/api/v1/savedesk/rates", headers=headers(keys["agent"])).status_code == 403


def test_ticket_csv_export_neutralises_formulas_and_is_for_analysts(client, users, app):
    import csv
    import io

    with app.state.sessionmaker() as session:
        tickets.open_ticket(session, customer_id="c1", subject=FORMULA)
        tickets.open_ticket(session, customer_id="c2", subject="\uff1dSUM(A1)")
        tickets.open_ticket(session, customer_id="c3", subject=XSS)
        session.commit()
    login(client, users["analyst"])
    r = client.get("/tickets.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    subjects = [row["subject"] for row in csv.DictReader(io.StringIO(r.text))]
    assert subjects == ["'" + FORMULA, "'\uff1dSUM(A1)", XSS]
    client.cookies.clear()
    login(client, users["agent"])
    assert client.get("/tickets.csv").status_code == 403


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_the_route_button_runs_the_intake_like_the_api(client, users, app, lang):
    """The dashboard's button queues the cancellations that asked for a call, then routes."""
    customer = f"btn-{lang}"
    with app.state.sessionmaker() as session:
        session.add(
            CancellationRecord(
                token_hash=f"button-{lang}",
                customer_id=customer,
                reason="price",
                offer="save_desk_call",
                outcome="saved",
            )
        )
        session.commit()
    login(client, users["analyst"], lang=lang)
    page = client.get("/savedesk")
    assert client.post("/savedesk-route", data={"csrf": "forged"}).status_code == 403
    with app.state.sessionmaker() as session:
        assert not session.scalars(
            select(SaveDeskTask).where(SaveDeskTask.customer_id == customer)
        ).all()  # a forged form did nothing
    done = client.post("/savedesk-route", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    counts = dict(parse_qsl(urlsplit(done.headers["location"]).query))
    shown = client.get(done.headers["location"])
    with language(lang):
        message = t("voice_cases.intake_done", queued=int(counts["queued"]), updated=0)
    assert str(escape(message)) in shown.text  # as the page escapes it
    with app.state.sessionmaker() as session:
        (case,) = session.scalars(
            select(SaveDeskTask).where(SaveDeskTask.customer_id == customer)
        ).all()
        assert (case.kind, case.reason, case.offer) == ("cancellation", "price", "discount")
        assert (case.status, case.agent) == ("assigned", users["agent"])  # queued, then routed
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "savedesk.intake")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry is not None and entry.actor == users["analyst"]
        assert json.loads(entry.details)["rows"] == int(counts["queued"])


@pytest.mark.parametrize(
    ("lang", "words"), [("en", "No ticket 999999."), ("ja", "チケット 999999 はありません。")]
)
def test_a_missing_ticket_is_a_404_in_the_callers_language(client, keys, lang, words):
    missing = client.get(
        "/api/v1/tickets/999999", params={"lang": lang}, headers=headers(keys["admin"])
    )
    assert missing.status_code == 404 and missing.json()["error"]["message"] == words
