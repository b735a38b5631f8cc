"""Users, API keys, login sessions with CSRF, and the audit trail they leave (SQLite and
PostgreSQL app databases)."""

from __future__ import annotations

import re
from typing import Any

from _app_helpers import PASSWORD, headers, login
from fastapi.testclient import TestClient

from retain.app.audit.service import Caller
from retain.app.auth import service as auth_service

ADMIN_CALLER = Caller("admin@example.org")


def test_admin_creates_user_and_the_change_is_audited(client, keys):
    r = client.post(
        "/api/v1/users",
        headers=headers(keys["admin"]),
        json={
            "email": "Mika@Example.jp",
            "role": "agent",
            "password": "long enough pw",
            "language": "ja",
        },
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "mika@example.jp" and "password" not in r.text
    again = client.post(
        "/api/v1/users",
        headers=headers(keys["admin"]),
        json={"email": "mika@example.jp", "role": "agent", "password": "x" * 9},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "auth.user_exists"
    patched = client.patch(
        f"/api/v1/users/{user['id']}", headers=headers(keys["admin"]), json={"role": "analyst"}
    )
    assert patched.json()["role"] == "analyst"
    audit = client.get("/api/v1/audit", headers=headers(keys["admin"])).json()["data"]
    actions = [(e["action"], e["actor"], e["target_id"]) for e in audit]
    assert ("user.update", "admin-key", str(user["id"])) in actions
    assert ("user.create", "admin-key", str(user["id"])) in actions
    assert audit[0]["details"] == {"fields": ["role"], "role": "analyst"}
    assert "long enough" not in str(audit)


def test_weak_password_and_bad_email_are_refused(client, keys):
    r = client.post(
        "/api/v1/users",
        headers=headers(keys["admin"]),
        json={"email": "x@example.org", "role": "agent", "password": "short"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "password"
    r = client.post(
        "/api/v1/users",
        headers=headers(keys["admin"]),
        json={"email": "not-an-email", "role": "agent", "password": "long enough pw"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "auth.bad_email"


def test_api_key_lifecycle(client, keys):
    created = client.post(
        "/api/v1/keys",
        headers=headers(keys["admin"]),
        json={"name": "shop events", "role": "ingest"},
    )
    assert created.status_code == 201
    raw = created.json()["key"]
    assert raw.startswith("rk_")
    me = client.get("/api/v1/me", headers=headers(raw)).json()
    assert me["role"] == "ingest" and me["permissions"] == ["ingest.write"]
    bearer = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert bearer.status_code == 200
    listed = client.get("/api/v1/keys", headers=headers(keys["admin"])).text
    assert raw not in listed
    key_id = created.json()["id"]
    assert (
        client.delete(f"/api/v1/keys/{key_id}", headers=headers(keys["admin"])).status_code == 200
    )
    after = client.get("/api/v1/me", headers=headers(raw))
    assert after.status_code == 401 and after.json()["error"]["code"] == "auth.bad_api_key"


def test_keys_are_stored_hashed(app, keys):
    from retain.app.auth.models import ApiKey

    with app.state.sessionmaker() as session:
        stored = [k.key_hash for k in session.query(ApiKey)]
    assert stored and not any(
        raw in stored or raw[-20:] in "".join(stored) for raw in keys.values()
    )


def test_login_logout_with_csrf(client, users):
    r = login(client, users["analyst"], lang="ko")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=lax" in r.headers["set-cookie"].lower()
    home = client.get("/")
    assert home.status_code == 200 and 'lang="ko"' in home.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)
    assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
    out = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_and_missing_csrf(app, users):
    with TestClient(app) as browser:
        bad = login(browser, users["admin"], password="not the password")
        assert bad.status_code == 401 and "wrong" in bad.text
        no_token = browser.post(
            "/login",
            data={"email": users["admin"], "password": PASSWORD, "csrf": "forged"},
            follow_redirects=False,
        )
        assert no_token.status_code == 400
        assert browser.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_login_redirect_stays_on_site(client, users):
    page = client.get("/login?next=https://evil.example/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={
            "email": users["agent"],
            "password": PASSWORD,
            "csrf": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_cookie_session_needs_csrf_header_to_change_state(client, users):
    login(client, users["admin"])
    assert client.get("/api/v1/me").json()["name"] == users["admin"]
    body = {"name": "x", "role": "ingest"}
    denied = client.post("/api/v1/keys", json=body)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "auth.csrf_failed"
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/docs").text).group(1)
    assert client.post("/api/v1/keys", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_disabled_user_cannot_log_in(client, keys, users):
    listed = client.get("/api/v1/users", headers=headers(keys["admin"])).json()["data"]
    agent = next(u for u in listed if u["email"] == users["agent"])
    client.patch(
        f"/api/v1/users/{agent['id']}", headers=headers(keys["admin"]), json={"active": False}
    )
    assert login(client, users["agent"]).status_code == 401


def test_settings_hide_secrets(client, keys, settings):
    body = client.get("/api/v1/settings", headers=headers(keys["admin"])).json()
    assert body["service"]["secret_key"] in ("", "***")
    if "@" in settings.database_url:
        assert ":***@" in body["database_url"] or "***" not in settings.database_url


def test_settings_hide_every_secret(client, keys, settings):
    """The SMS gateway's credential and reply secret, SMTP and engage secrets: never as typed."""
    settings.sms.auth_value = "Bearer sms-credential"
    settings.sms.inbound_secret = "inbound-secret"
    settings.smtp_password = "smtp-password"
    settings.engage.signing_secret = "signing-secret"
    settings.engage.webhook_secret = "webhook-secret"
    response = client.get("/api/v1/settings", headers=headers(keys["admin"]))
    assert response.status_code == 200
    for secret in ("sms-credential", "inbound-secret", "smtp-password", "signing-secret"):
        assert secret not in response.text
    assert "webhook-secret" not in response.text
    body = response.json()
    assert body["sms"]["auth_value"] == body["sms"]["inbound_secret"] == "***"
    assert body["smtp_password"] == "***"


def test_model_cards_from_the_registry(client, keys, settings):
    import json

    folder = settings.models_dir / "churn" / "20240601T120000Z-3f2a"
    folder.mkdir(parents=True)
    card = {
        "version": "20240601T120000Z-3f2a",
        "created_at": "2024-06-01T12:00:00",
        "definition": {"name": "default", "horizon_days": 90},
        "backtest": {"metrics": [{"model": "lightgbm", "auc": 0.81, "brier": 0.12}]},
    }
    (folder / "card.json").write_text(json.dumps(card))
    listed = client.get("/api/v1/models", headers=headers(keys["analyst"])).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == "churn/20240601T120000Z-3f2a"
    one = client.get(
        "/api/v1/models/card",
        headers=headers(keys["analyst"]),
        params={"id": "churn/20240601T120000Z-3f2a"},
    ).json()
    assert one["card"]["backtest"]["metrics"][0]["auc"] == 0.81
    missing = client.get(
        "/api/v1/models/card", headers=headers(keys["analyst"]), params={"id": "churn/nope"}
    )
    assert missing.status_code == 404


def _entries(app, action=None):
    """The audit log as a fresh session sees it (so only committed entries count)."""
    import json

    from retain.app.audit.models import AuditEntry

    with app.state.sessionmaker() as session:
        rows = session.query(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            rows = rows.filter(AuditEntry.action == action)
        return [
            (r.action, r.actor, r.actor_kind, r.target_type, r.target_id, json.loads(r.details))
            for r in rows
        ]


def test_audit_record_writes_one_committed_row_with_the_change(app):
    from retain.app.audit import service as audit
    from retain.app.auth.models import User

    before = len(_entries(app))
    with app.state.sessionmaker() as session:
        session.add(User(email="new@example.org", role="agent", password_hash="x"))
        entry = audit.record(
            session, audit.Caller("ops@example.org"), "user.import", ("user", 7), rows=3
        )
        assert entry.id is not None  # committed, so it has its id
    # A session that did not write it sees the entry and the change it was recorded with.
    assert _entries(app)[before:] == [
        ("user.import", "ops@example.org", "user", "user", "7", {"rows": 3})
    ]
    with app.state.sessionmaker() as session:
        assert session.query(User).filter(User.email == "new@example.org").count() == 1


def test_each_audited_action_writes_exactly_one_row(app, client, keys, users):
    admin = headers(keys["admin"])
    created = client.post(
        "/api/v1/users",
        headers=admin,
        json={"email": "one@example.org", "role": "agent", "password": "long enough pw"},
    ).json()
    client.patch(f"/api/v1/users/{created['id']}", headers=admin, json={"name": "One"})
    client.patch(f"/api/v1/users/{created['id']}", headers=admin, json={"name": "One"})  # no-op
    key = client.post("/api/v1/keys", headers=admin, json={"name": "k", "role": "ingest"}).json()
    client.delete(f"/api/v1/keys/{key['id']}", headers=admin)
    with TestClient(app) as browser:
        assert login(browser, users["agent"], password="not the password").status_code == 401
        assert login(browser, users["agent"]).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/docs").text).group(1)
        assert browser.post("/logout", data={"csrf": csrf}, follow_redirects=False).is_redirect
    user_id, key_id = str(created["id"]), str(key["id"])
    expected = {
        "user.create": ("admin-key", "api_key", "user", user_id, {"role": "agent"}),
        "user.update": ("admin-key", "api_key", "user", user_id, {"fields": ["name"]}),
        "key.create": ("admin-key", "api_key", "api_key", key_id, {"name": "k", "role": "ingest"}),
        "key.revoke": ("admin-key", "api_key", "api_key", key_id, {"name": "k"}),
        "login.failed": (users["agent"], "user", "", "", {}),
        "logout": (users["agent"], "user", "user", None, {}),
    }
    for action, (actor, kind, target_type, target_id, details) in expected.items():
        rows = _entries(app, action)
        assert len(rows) == 1, (action, rows)
        _, got_actor, got_kind, got_type, got_id, got_details = rows[0]
        assert (got_actor, got_kind, got_type, got_details) == (actor, kind, target_type, details)
        assert target_id is None or got_id == target_id
    logins = [r for r in _entries(app, "login") if r[1] == users["agent"]]
    assert len(logins) == 1 and logins[0][3] == "user"
    assert logins[0][4] == _entries(app, "logout")[0][4]


def _audit_text(app) -> str:
    from retain.app.audit.models import AuditEntry

    with app.state.sessionmaker() as session:
        return " ".join(
            f"{e.actor} {e.target_id} {e.details}" for e in session.query(AuditEntry).all()
        )


def test_a_failed_login_stores_the_typed_email_only_for_a_known_user(app, client, users):
    typed = "correct horse battery staple"  # a password typed in the e-mail field
    assert login(client, typed, password="x").status_code == 401
    assert login(client, users["agent"], password="not the password").status_code == 401
    assert [r[1] for r in _entries(app, "login.failed")] == ["-", users["agent"]]
    assert typed not in _audit_text(app)


def test_a_password_change_ends_every_login_session_of_the_user(app, client, keys, users):
    browsers = [TestClient(app), TestClient(app)]
    for browser in browsers:
        assert login(browser, users["analyst"]).status_code == 303
        assert browser.get("/", follow_redirects=False).status_code == 200
    assert login(client, users["agent"]).status_code == 303
    analyst_id = next(
        u["id"]
        for u in client.get("/api/v1/users", headers=headers(keys["admin"])).json()["data"]
        if u["email"] == users["analyst"]
    )
    r = client.patch(
        f"/api/v1/users/{analyst_id}",
        headers=headers(keys["admin"]),
        json={"password": "a brand new passphrase"},
    )
    assert r.status_code == 200, r.text
    for browser in browsers:
        assert browser.get("/", follow_redirects=False).headers["location"].startswith("/login")
        browser.close()
    assert client.get("/docs", follow_redirects=False).status_code == 200  # others stay


def test_changing_ones_own_password_keeps_the_current_session(app, users):
    from retain.app.auth.models import LoginSession, User

    with app.state.sessionmaker() as session:
        user = session.query(User).filter(User.email == users["admin"]).one()
        here, _ = auth_service.start_session(session, user=user)
        auth_service.start_session(session, user=user)
        session.commit()
        changed = auth_service.update_user(
            session,
            user=user,
            password="a brand new passphrase",
            keep_login=here,
            actor=ADMIN_CALLER,
        )
        session.commit()
        assert changed == ["password"]
        left = session.query(LoginSession).filter(LoginSession.user_id == user.id).all()
        assert [s.token_hash for s in left] == [auth_service.digest(here)]
        assert auth_service.lookup_session(session, here) is not None


def test_keys_made_by_a_deactivated_user_stop_working_at_once(
    app: Any, client: TestClient, users: dict[str, str], keys: dict[str, str]
) -> None:
    """A key acts for the person who made it: deactivating them ends their keys too (cached ones
    included), while keys made elsewhere (here by the tests, like `retain keys create`) go on."""
    with app.state.sessionmaker() as session:
        _, theirs = auth_service.create_api_key(
            session, name="leaver", role="analyst", created_by=users["analyst"]
        )
        session.commit()
    probe = "/api/v1/customers/c1/scores"
    assert client.get(probe, headers=headers(theirs)).status_code == 200
    assert client.get(probe, headers=headers(theirs)).status_code == 200  # now cached
    admin = headers(keys["admin"])
    listed = client.get("/api/v1/users", headers=admin).json()["data"]
    user_id = next(u["id"] for u in listed if u["email"] == users["analyst"])
    assert client.patch(
        f"/api/v1/users/{user_id}", headers=admin, json={"active": False}
    ).is_success
    refused = client.get(probe, headers=headers(theirs))
    assert refused.status_code == 401
    assert client.get(probe, headers=headers(keys["analyst"])).status_code == 200
    assert client.patch(f"/api/v1/users/{user_id}", headers=admin, json={"active": True}).is_success
    assert client.get(probe, headers=headers(theirs)).status_code == 200
