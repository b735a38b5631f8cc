"""The admin pages: users, API keys and the audit log, through the same audited services."""

from __future__ import annotations

import re

import pytest
from _app_helpers import PASSWORD, login


def _csrf(page_text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page_text)
    assert found, page_text
    return found.group(1)


def test_admin_manages_users_keys_and_reads_the_audit_log(client, users):
    assert login(client, users["admin"]).status_code == 303
    page = client.get("/admin/users")
    assert page.status_code == 200 and users["agent"] in page.text
    csrf = _csrf(page.text)
    added = client.post(
        "/admin/users",
        data={"email": "New@Example.org", "role": "agent", "password": PASSWORD, "csrf": csrf},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "new@example.org" in client.get("/admin/users").text
    new_id = re.search(r'action="/admin/users/(\d+)/active"', client.get("/admin/users").text)
    assert new_id
    ids = re.findall(r'action="/admin/users/(\d+)/active"', client.get("/admin/users").text)
    off = client.post(
        f"/admin/users/{ids[-1]}/active",
        data={"active": "false", "csrf": csrf},
        follow_redirects=False,
    )
    assert off.status_code == 303
    assert "deactivated" in client.get("/admin/users").text

    keys = client.post("/admin/keys", data={"name": "web shop", "role": "ingest", "csrf": csrf})
    raw = re.search(r'<code class="secret">(rk_[^<]+)</code>', keys.text).group(1)
    listing = client.get("/admin/keys").text
    assert raw not in listing and raw.split("_")[1] in listing  # shown once, then only the prefix
    key_id = re.findall(r'action="/admin/keys/(\d+)/revoke"', listing)[0]
    revoked = client.post(
        f"/admin/keys/{key_id}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert client.get("/api/v1/metrics/overview", headers={"X-API-Key": raw}).status_code == 401

    audit = client.get("/admin/audit").text
    for action in ("user.create", "user.update", "key.create", "key.revoke", "login"):
        assert f"<code>{action}</code>" in audit
    only = client.get("/admin/audit?action=key.revoke").text
    assert "<code>key.revoke</code>" in only and "<code>user.create</code>" not in only


def test_admin_pages_refuse_forged_forms_and_self_deactivation(client, users):
    login(client, users["admin"])
    forged = client.post(
        "/admin/users",
        data={"email": "x@example.org", "role": "admin", "password": PASSWORD, "csrf": "no"},
    )
    assert forged.status_code == 403
    assert "x@example.org" not in client.get("/admin/users").text
    page = client.get("/admin/users").text
    own = re.search(r"<td>admin@example.org</td>", page)
    assert own and "Deactivate" in page
    ids = re.findall(r'action="/admin/users/(\d+)/active"', page)
    me = client.post(f"/admin/users/{ids[0]}/active", data={"active": "false", "csrf": _csrf(page)})
    assert me.status_code == 403


@pytest.mark.parametrize("role", ["analyst", "agent"])
def test_only_admins_see_the_admin_pages(client, users, role):
    login(client, users[role])
    for path in ("/admin/users", "/admin/keys", "/admin/audit"):
        assert client.get(path).status_code == 403
    assert 'href="/admin/users"' not in client.get("/at-risk").text


@pytest.mark.parametrize(("lang", "title"), [("ja", "監査ログ"), ("ko", "감사 로그")])
def test_admin_pages_are_translated(client, users, lang, title):
    login(client, users["admin"], lang=lang)
    assert title in client.get(f"/admin/audit?lang={lang}").text
