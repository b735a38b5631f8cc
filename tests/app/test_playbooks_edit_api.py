"""Editing playbooks over HTTP: versions, the file's rules as 422s, roles, conflicts, audit."""

from __future__ import annotations

import json
from typing import Any

from _app_helpers import headers
from fastapi.testclient import TestClient
from sqlalchemy import select

from retain.app.audit.models import AuditEntry
from retain.engage.playbook_versions import PlaybookVersion

NEW = {
    "name": "winback-90",
    "trigger": {"kind": "inactive", "days": 90},
    "channel": "email",
    "holdout": 0.25,
    "template": "winback",
}


def _book(client: TestClient, key: str) -> dict[str, Any]:
    response = client.get("/api/v1/playbooks", headers=headers(key))
    assert response.status_code == 200, response.text
    return {p["name"]: p for p in response.json()["playbooks"]}


def test_create_read_update_disable_delete_keeps_every_version(
    client: TestClient, keys: dict[str, str], app: Any
) -> None:
    key = keys["analyst"]
    created = client.post("/api/v1/playbooks", json={"playbook": NEW}, headers=headers(key))
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"' and created.json()["version"] == 1
    assert _book(client, key)["winback-90"]["holdout"] == 0.25
    assert _book(client, key)["winback-60"]["version"] == 1

    changed = dict(NEW, holdout=0.3)
    put = client.put(
        "/api/v1/playbooks/winback-90",
        json={"playbook": changed},
        headers=headers(key, **{"If-Match": '"1"'}),
    )
    assert put.status_code == 200, put.text
    assert put.headers["ETag"] == '"2"' and put.json()["definition"]["holdout"] == 0.3
    assert _book(client, key)["winback-90"]["version"] == 2

    off = client.patch(
        "/api/v1/playbooks/winback-90",
        json={"playbook": {"enabled": False}},
        headers=headers(key, **{"If-Match": put.headers["ETag"]}),
    )
    assert off.status_code == 200, off.text
    assert _book(client, key)["winback-90"]["enabled"] is False
    assert _book(client, key)["winback-90"]["holdout"] == 0.3  # the patch kept the rest

    gone = client.delete(
        "/api/v1/playbooks/winback-90", headers=headers(key, **{"If-Match": '"3"'})
    )
    assert gone.status_code == 204, gone.text
    assert "winback-90" not in _book(client, key)
    assert client.get("/api/v1/playbooks/winback-90", headers=headers(key)).status_code == 404

    with app.state.sessionmaker() as session:
        kept = session.scalars(
            select(PlaybookVersion).where(PlaybookVersion.name == "winback-90")
        ).all()
        assert [(v.version, v.deleted) for v in kept] == [
            (1, False),
            (2, False),
            (3, False),
            (4, True),
        ]
        assert [json.loads(v.definition).get("holdout") for v in kept[:2]] == [0.25, 0.3]
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_id == "winback-90")
            .order_by(AuditEntry.id)
        ).all()
    assert actions == [
        "playbooks.create",
        "playbooks.update",
        "playbooks.disable",
        "playbooks.delete",
    ]


def test_editing_a_file_playbook_keeps_the_file_version_first(
    client: TestClient, keys: dict[str, str]
) -> None:
    key = keys["admin"]
    read = client.get("/api/v1/playbooks/winback-60", headers=headers(key))
    assert read.status_code == 200, read.text
    assert read.headers["ETag"] == '"1"' and read.json()["history"] == []
    assert set(read.json()["templates"]) == {"en", "ja", "ko"}
    patched = client.patch(
        "/api/v1/playbooks/winback-60",
        json={"playbook": {"trigger": {"days": 45}}, "version": 1},
        headers=headers(key),
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["version"] == 2 and body["definition"]["trigger"]["days"] == 45
    assert body["definition"]["trigger"]["max_days"] == 365  # merged, not replaced
    assert [h["version"] for h in body["history"]] == [1, 2]
    assert body["history"][0]["author"].startswith("file:")


def test_a_stale_version_is_a_409_and_nothing_changes(
    client: TestClient, keys: dict[str, str]
) -> None:
    key = keys["analyst"]
    client.post("/api/v1/playbooks", json={"playbook": NEW}, headers=headers(key))
    first = client.put(
        "/api/v1/playbooks/winback-90",
        json={"playbook": dict(NEW, holdout=0.1)},
        headers=headers(key, **{"If-Match": '"1"'}),
    )
    assert first.status_code == 200, first.text
    second = client.put(
        "/api/v1/playbooks/winback-90",
        json={"playbook": dict(NEW, holdout=0.4)},
        headers=headers(key, **{"If-Match": '"1"'}),
    )
    assert second.status_code == 409, second.text
    assert second.json()["error"]["code"] == "playbooks.version_conflict"
    assert "version 2" in second.json()["error"]["message"]
    assert _book(client, key)["winback-90"]["holdout"] == 0.1
    missing = client.put(
        "/api/v1/playbooks/winback-90", json={"playbook": NEW}, headers=headers(key)
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "playbooks.version_required"
    twice = client.post("/api/v1/playbooks", json={"playbook": NEW}, headers=headers(key))
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "playbooks.exists"


def test_bad_input_is_a_422_naming_field_rule_and_hint(
    client: TestClient, keys: dict[str, str]
) -> None:
    key = keys["analyst"]
    cases = [
        (dict(NEW, holdout=1.5), "holdout", "less_than"),
        (dict(NEW, trigger={"kind": "inactive", "dayz": 9}), "trigger.dayz", "extra_forbidden"),
        (dict(NEW, trigger={"kind": "sometimes"}), "trigger", "union_tag_invalid"),
        (dict(NEW, channel="fax"), "channel", "literal_error"),
    ]
    for playbook, field, rule in cases:
        response = client.post(
            "/api/v1/playbooks", json={"playbook": playbook}, headers=headers(key)
        )
        assert response.status_code == 422, (playbook, response.text)
        error = response.json()["error"]
        assert error["code"] == "playbooks.invalid"
        detail = error["details"][0]
        assert (detail["field"], detail["rule"]) == (field, rule), error
        assert detail["hint"], error
        assert field in error["message"]
    # a template that reaches for Python internals is refused like a file's
    evil = {"en": {"subject": "hi", "body": "{{ customer.__class__ }}"}}
    response = client.post(
        "/api/v1/playbooks",
        json={"playbook": dict(NEW, template="evil"), "templates": evil},
        headers=headers(key),
    )
    assert response.status_code == 422, response.text
    assert "__class__" in response.json()["error"]["message"]
    assert "retain-playbook-templates" not in response.text
    no_english = {"ja": {"subject": "やあ", "body": "本文"}}
    response = client.post(
        "/api/v1/playbooks",
        json={"playbook": dict(NEW, template="own"), "templates": no_english},
        headers=headers(key),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "templates.en"
    assert "winback-90" not in _book(client, key)


def test_own_templates_are_stored_and_used(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["analyst"]
    templates = {
        lang: {"subject": f"{lang} subject {{{{ customer.customer_id }}}}", "body": "body"}
        for lang in ("en", "ja", "ko")
    }
    response = client.post(
        "/api/v1/playbooks",
        json={"playbook": dict(NEW, template="mine"), "templates": templates},
        headers=headers(key),
    )
    assert response.status_code == 201, response.text
    assert response.json()["templates"]["ja"]["subject"].startswith("ja subject")
    run = client.get(
        "/api/v1/playbooks/dry-run",
        params={"as_of": "2024-09-30", "name": "winback-90"},
        headers=headers(key),
    )
    assert run.status_code == 200, run.text
    sent = [d for d in run.json()["decisions"] if d["status"] in ("send", "delayed")]
    assert sent, run.text
    for d in sent:
        assert d["subject"] == f"{d['language']} subject {d['customer_id']}"


def test_only_writers_edit(client: TestClient, keys: dict[str, str]) -> None:
    for role in ("agent", "ingest"):
        response = client.post(
            "/api/v1/playbooks", json={"playbook": NEW}, headers=headers(keys[role])
        )
        assert response.status_code == 403, role
        response = client.patch(
            "/api/v1/playbooks/winback-60",
            json={"playbook": {"enabled": False}, "version": 1},
            headers=headers(keys[role]),
        )
        assert response.status_code == 403, role
    assert _book(client, keys["admin"])["winback-60"]["enabled"] is True


def test_simultaneous_edits_of_one_version_leave_one_winner(
    client: TestClient, keys: dict[str, str]
) -> None:
    import threading

    key = keys["analyst"]
    start = threading.Barrier(4)
    statuses: list[int] = []

    def edit(holdout: float) -> None:
        start.wait()
        response = client.put(
            "/api/v1/playbooks/winback-60",
            json={"playbook": dict(NEW, name="winback-60", holdout=holdout)},
            headers=headers(key, **{"If-Match": '"1"'}),
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(0.1 * (i + 1),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409], statuses
    read = client.get("/api/v1/playbooks/winback-60", headers=headers(key))
    assert read.headers["ETag"] == '"2"'
    assert [h["version"] for h in read.json()["history"]] == [1, 2]


def test_disabling_a_playbook_withdraws_its_waiting_messages(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Mail a playbook queued (waiting for quiet hours, say) is cancelled when it is disabled;
    another playbook's is left alone, and the audit says how many were withdrawn."""
    from retain.engage import outbox
    from retain.engage._tables import OutboxMessage

    app: Any = client.app
    with app.state.sessionmaker() as session:
        for book, customer in (("winback-60", "c1"), ("onboarding", "c2")):
            outbox.enqueue(
                session,
                customer_id=customer,
                channel="email",
                recipient=f"{customer}@example.com",
                payload={"subject": "s", "body": "b"},
                idempotency_key=f"{book}-{customer}",
                playbook=book,
            )
        session.commit()
    disabled = client.patch(
        "/api/v1/playbooks/winback-60",
        json={"playbook": {"enabled": False}, "version": 1},
        headers=headers(keys["admin"]),
    )
    assert disabled.status_code == 200, disabled.text
    with app.state.sessionmaker() as session:
        states = {
            m.playbook: (m.state, m.cancel_reason) for m in session.scalars(select(OutboxMessage))
        }
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "playbooks.disable")
        ).one()
    assert states == {
        "winback-60": ("cancelled", "playbook_disabled"),
        "onboarding": ("queued", None),
    }
    assert json.loads(entry.details)["withdrawn"] == 1
