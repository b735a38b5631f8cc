"""The delivery problems page: dead letters, cancelled messages, retry and discard, roles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from _app_helpers import login
from fastapi.testclient import TestClient
from sqlalchemy import select

from retain.app.audit.models import AuditEntry
from retain.engage import outbox
from retain.engage._tables import OutboxMessage


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text
    return found.group(1)


def _seed(app: Any, dead: int = 3) -> dict[str, str]:
    """One failed e-mail, ``dead`` dead webhooks, one cancelled SMS, one sent e-mail."""
    with app.state.sessionmaker() as session:

        def queue(key: str, channel: str, recipient: str, playbook: str) -> None:
            outbox.enqueue(
                session,
                customer_id=f"C-{key}",
                channel=channel,
                recipient=recipient,
                payload={"subject": "s", "body": "b"},
                idempotency_key=key,
                playbook=playbook,
            )

        queue("mail-fail", "email", "gone@example.com", "winback-60")
        for i in range(dead):
            queue(f"hook-{i}", "webhook", f"https://crm.example.com/h?token=t{i}", "sync")
        queue("sms-cancel", "sms", "+819012345678", "winback-60")
        queue("mail-ok", "email", "ok@example.com", "winback-60")
        session.commit()
        assert outbox.cancel(session, keys=["sms-cancel"], reason="consent_revoked") == 1
        session.commit()
        claim = outbox.claim(session, limit=dead + 10, lease_seconds=60)
        ids = {}
        for m in claim.messages:
            ids[m.idempotency_key] = m.message_id
            if m.idempotency_key == "mail-fail":
                outbox.mark_failed(
                    session,
                    m,
                    claim.token,
                    error="550 5.1.1 <GONE@example.com>: Recipient address rejected",
                )
            elif m.idempotency_key == "mail-ok":
                outbox.mark_sent(session, m, claim.token)
            else:
                outbox.mark_failed(session, m, claim.token, error="HTTP 503", dead=True)
        ids["sms-cancel"] = outbox.message_id_for("sms-cancel")
    return ids


def _row(text: str, message_id: str) -> str:
    found = re.search(rf'<tr data-message="{message_id}">(.*?)</tr>', text, re.S)
    return found.group(1) if found else ""


def _state(app: Any, message_id: str) -> OutboxMessage:
    with app.state.sessionmaker() as session:
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.message_id == message_id)
        ).one()


def _audit(app: Any, action: str) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_admin_sees_dead_letters_with_recipients_and_retries_one(
    client: TestClient, users: dict[str, str], app: Any
) -> None:
    ids = _seed(app)
    login(client, users["admin"])
    page = client.get("/engage/outbox")
    assert page.status_code == 200
    text = page.text
    assert "Delivery problems" in text
    assert re.search(r'data-state="dead">3<', text) and re.search(r'data-state="sent">1<', text)
    assert re.search(r'data-state="cancelled">1<', text)
    failed = _row(text, ids["mail-fail"])
    assert "gone@example.com" in failed and "Recipient address rejected" in failed
    assert "winback-60" in failed and "Failed" in failed
    assert "Dead letter" in _row(text, ids["hook-0"]) and "HTTP 503" in _row(text, ids["hook-0"])
    # neither the sent nor the cancelled message is a dead letter
    assert not _row(text, ids["mail-ok"]) and not _row(text, ids["sms-cancel"])
    assert "4 messages" in text
    # a read of contact details is audited (the fields, never the values)
    (read,) = _audit(app, "engage.outbox_read")
    assert "gone@example.com" not in (read.details or "")

    retried = client.post(
        f"/engage/outbox/{ids['hook-1']}/retry",
        data={"csrf": _csrf(text), "back": "/engage/outbox?state=dead&page=1"},
        follow_redirects=False,
    )
    assert retried.status_code == 303
    assert retried.headers["location"].startswith("/engage/outbox?state=dead&page=1&done=retried")
    row = _state(app, ids["hook-1"])
    assert (row.state, row.attempts, row.claim_token, row.lease_expires_at) == (
        "queued",
        0,
        None,
        None,
    )
    (entry,) = _audit(app, "engage.requeue")
    assert entry.target_id == ids["hook-1"] and entry.actor == users["admin"]
    after = client.get(retried.headers["location"]).text
    assert f"Message {ids['hook-1']} was queued again." in after
    assert not _row(after, ids["hook-1"])
    # a worker claims it again with a new token
    with app.state.sessionmaker() as session:
        claim = outbox.claim(session, limit=10, lease_seconds=60)
        assert [m.message_id for m in claim.messages] == [ids["hook-1"]]


def test_discard_takes_a_dead_letter_off_the_list_and_keeps_its_state(
    client: TestClient, users: dict[str, str], app: Any
) -> None:
    ids = _seed(app)
    login(client, users["admin"])
    text = client.get("/engage/outbox").text
    gone = client.post(
        f"/engage/outbox/{ids['hook-0']}/discard",
        data={"csrf": _csrf(text), "back": "https://evil.example/"},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/engage/outbox?done=discarded")  # not offsite
    row = _state(app, ids["hook-0"])
    assert row.state == "dead" and row.discarded_at is not None
    assert len(_audit(app, "engage.discard")) == 1
    assert not _row(client.get("/engage/outbox").text, ids["hook-0"])
    shown = client.get("/engage/outbox?discarded=true").text
    assert "Discarded" in _row(shown, ids["hook-0"])
    # twice: nothing left to discard
    again = client.post(f"/engage/outbox/{ids['hook-0']}/discard", data={"csrf": _csrf(text)})
    assert again.status_code == 404


def test_filters_show_cancelled_messages_with_their_reason_and_page(
    client: TestClient, users: dict[str, str], app: Any
) -> None:
    ids = _seed(app, dead=60)
    login(client, users["admin"])
    cancelled = client.get("/engage/outbox?state=cancelled").text
    row = _row(cancelled, ids["sms-cancel"])
    assert "Cancelled" in row and "consent revoked" in row and "+819012345678" in row
    assert "1 messages" in cancelled and not _row(cancelled, ids["mail-fail"])
    # no retry or discard for a cancelled message
    assert "/retry" not in row and "/discard" not in row
    email = client.get("/engage/outbox?channel=email").text
    assert _row(email, ids["mail-fail"]) and not _row(email, ids["hook-0"])
    sync = client.get("/engage/outbox?playbook=sync").text
    assert "60 messages" in sync and not _row(sync, ids["mail-fail"])
    # 61 problems, 50 a page, newest first: the oldest (the failed e-mail) is on page 2
    first = client.get("/engage/outbox").text
    assert len(re.findall(r"<tr data-message=", first)) == 50
    assert 'rel="next"' in first and not _row(first, ids["mail-fail"])
    second = client.get("/engage/outbox?page=2").text
    assert len(re.findall(r"<tr data-message=", second)) == 11 and _row(second, ids["mail-fail"])
    assert 'rel="prev"' in second
    # beyond the last page: the last page
    assert _row(client.get("/engage/outbox?page=99").text, ids["mail-fail"])


def test_analysts_see_no_contact_details_and_cannot_act(
    client: TestClient, users: dict[str, str], app: Any
) -> None:
    ids = _seed(app)
    login(client, users["analyst"])
    page = client.get("/engage/outbox")
    assert page.status_code == 200
    text = page.text
    assert "gone@example.com" not in text and "Contact details are hidden" in text
    assert _row(text, ids["mail-fail"])
    hook = _row(text, ids["hook-0"])
    assert "crm.example.com" in hook and "token=" not in hook  # a webhook's host only
    assert 'action="/engage/outbox/' not in text
    assert not _audit(app, "engage.outbox_read")
    denied = client.post(f"/engage/outbox/{ids['hook-0']}/retry", data={"csrf": "x"})
    assert denied.status_code == 403
    assert _state(app, ids["hook-0"]).state == "dead"


@pytest.mark.parametrize("role", ["agent", "ingest"])
def test_other_roles_are_refused(
    client: TestClient, users: dict[str, str], app: Any, role: str
) -> None:
    login(client, users[role])
    assert client.get("/engage/outbox").status_code == 403


def test_a_forged_form_changes_nothing(client: TestClient, users: dict[str, str], app: Any) -> None:
    ids = _seed(app)
    login(client, users["admin"])
    for action in ("retry", "discard"):
        forged = client.post(f"/engage/outbox/{ids['hook-0']}/{action}", data={"csrf": "no"})
        assert forged.status_code == 403
    row = _state(app, ids["hook-0"])
    assert row.state == "dead" and row.discarded_at is None
    assert not _audit(app, "engage.requeue") and not _audit(app, "engage.discard")


def test_nobody_logged_in_is_sent_to_the_login_page(client: TestClient) -> None:
    page = client.get("/engage/outbox", follow_redirects=False)
    assert page.status_code in (303, 307) and "/login" in page.headers["location"]


@pytest.mark.parametrize(
    ("lang", "title", "state"),
    [("ja", "配信の問題", "デッドレター"), ("ko", "발송 문제", "데드 레터")],
)
def test_the_page_speaks_japanese_and_korean(
    client: TestClient, users: dict[str, str], app: Any, lang: str, title: str, state: str
) -> None:
    ids = _seed(app)
    login(client, users["admin"], lang=lang)
    text = client.get(f"/engage/outbox?lang={lang}").text
    assert title in text and state in _row(text, ids["hook-0"])


def test_an_error_that_quotes_the_recipient_is_hidden_from_analysts(
    client: TestClient, users: dict[str, str], app: Any, keys: dict[str, str]
) -> None:
    """SMTP refusals quote the address: analysts see the code and the words, not the address,
    on the page and through the API; admins see it whole."""
    from _app_helpers import headers

    ids = _seed(app)
    login(client, users["analyst"])
    row = _row(client.get("/engage/outbox").text, ids["mail-fail"])
    assert "550 5.1.1" in row and "Recipient address rejected" in row
    assert "example.com" not in row.lower()
    api = client.get("/api/v1/engage/outbox", headers=headers(keys["analyst"]))
    assert api.status_code == 200 and "GONE@example.com" not in api.text
    (failed,) = [p for p in api.json()["problems"] if p["message_id"] == ids["mail-fail"]]
    assert failed["last_error"].startswith("550 5.1.1") and "[…]" in failed["last_error"]
    whole = client.get("/api/v1/engage/outbox", headers=headers(keys["admin"]))
    assert "GONE@example.com" in whole.text
