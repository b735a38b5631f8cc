"""The playbook edit form: it renders, previews in en/ja/ko, saves a version, shows mistakes."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from _app_helpers import login
from fastapi.testclient import TestClient

TEMPLATE_EN = 'subject = "Hi {{ customer.first_name }}"\nbody = "Come back: {{ offer.name }}"\n'


def _form(client: TestClient, path: str) -> dict[str, Any]:
    """The form's current fields, as a browser would send them back."""
    page = client.get(path)
    assert page.status_code == 200, page.text[:2000]
    text = page.text
    fields: dict[str, Any] = {}
    for name, value in re.findall(
        r'<input type="(?:text|hidden)" name="(\w+)"[^>]*?value="([^"]*)"', text
    ):
        fields[name] = html.unescape(value)
    for name, value in re.findall(r'<textarea name="(\w+)"[^>]*>(.*?)</textarea>', text, re.S):
        fields[name] = html.unescape(value)
    fields["channel"] = re.search(r'<option value="(\w+)" selected>', text).group(1)
    if re.search(r'name="enabled" checked', text):
        fields["enabled"] = "on"
    return fields


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_the_form_renders_and_previews_in_three_languages(
    client: TestClient, users: dict[str, str], lang: str
) -> None:
    login(client, users["analyst"], lang=lang)
    listing = client.get("/playbooks")
    assert 'href="/playbooks/winback-60/edit"' in listing.text
    assert 'href="/playbooks/new"' in listing.text
    fields = _form(client, "/playbooks/winback-60/edit")
    assert fields["trigger"] == '{ kind = "inactive", days = 60, max_days = 365 }'
    assert fields["holdout"] == "0.2" and fields["version"] == "1"
    assert 'subject = "' in fields["template_ja"]
    fields["template_en"] = TEMPLATE_EN
    fields["template_ja"] = fields["template_ko"] = ""
    response = client.post("/playbooks/winback-60/edit", data=fields | {"op": "preview"})
    assert response.status_code == 200, response.text[:3000]
    text = html.unescape(response.text)
    previews = dict(re.findall(r'data-preview="(\w+)".*?<strong>(.*?)</strong>', text, re.S))
    # English is the only language given now, so ja and ko fall back to it
    assert previews == {"en": "Hi Sam", "ja": "Hi さくら", "ko": "Hi 민준"}
    assert "Come back: coupon_10" in text
    # a preview stores nothing
    assert _form(client, "/playbooks/winback-60/edit")["version"] == "1"


def test_saving_changes_the_playbook_and_keeps_versions(
    client: TestClient, users: dict[str, str]
) -> None:
    login(client, users["analyst"], lang="en")
    fields = _form(client, "/playbooks/winback-60/edit")
    fields.update(holdout="0.35", segment="vip", op="save")
    fields["risk_bands"] = ["high"]
    response = client.post("/playbooks/winback-60/edit", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text[:3000]
    assert response.headers["location"] == "/playbooks/winback-60/edit?saved=2"
    again = client.get(response.headers["location"])
    assert "Saved as version 2." in again.text
    assert 'data-version="1"' in again.text and 'data-version="2"' in again.text
    now = _form(client, "/playbooks/winback-60/edit")
    assert now["holdout"] == "0.35" and now["segment"] == "vip" and now["version"] == "2"
    assert 'value="high" checked' in client.get("/playbooks/winback-60/edit").text
    # the stale form (version 1) is refused, and the page says why
    stale = client.post("/playbooks/winback-60/edit", data=fields)
    assert stale.status_code == 409
    assert "is at version 2, not 1" in html.unescape(stale.text)
    # disable: a new version, off in the list
    now["op"] = "disable"
    off = client.post("/playbooks/winback-60/edit", data=now, follow_redirects=False)
    assert off.status_code == 303
    assert re.search(
        r'data-edit="winback-60">Edit</a> <span class="small muted">\(off\)',
        client.get("/playbooks").text,
    )


def test_bad_input_shows_the_error_with_field_and_keeps_the_form(
    client: TestClient, users: dict[str, str]
) -> None:
    login(client, users["analyst"], lang="en")
    fields = _form(client, "/playbooks/new")
    fields.update(name="new-one", trigger='{ kind = "inactive", days = 0 }', template="winback")
    fields["op"] = "save"
    response = client.post("/playbooks/new", data=fields)
    assert response.status_code == 422, response.text[:3000]
    text = html.unescape(response.text)
    assert 'id="playbook-error"' in text and 'data-field="trigger.days"' in text
    assert "key trigger.days" in text
    assert 'value="{ kind = "inactive", days = 0 }"' in text or "days = 0" in text
    broken = client.post("/playbooks/new", data=fields | {"trigger": "{ kind = "})
    assert broken.status_code == 422
    assert "trigger is not valid TOML" in html.unescape(broken.text)
    assert client.get("/playbooks/new-one/edit").status_code == 404
    # "delete" on the unsaved form (a hand-made request: the button is not shown) stores nothing
    valid = fields | {"trigger": '{ kind = "inactive", days = 30 }', "op": "delete"}
    gone = client.post("/playbooks/new", data=valid, follow_redirects=False)
    assert gone.status_code == 303 and client.get("/playbooks/new-one/edit").status_code == 404


def test_the_form_needs_the_csrf_token_and_the_right_role(
    client: TestClient, users: dict[str, str]
) -> None:
    login(client, users["analyst"], lang="en")
    fields = _form(client, "/playbooks/winback-60/edit")
    fields.update(holdout="0.5", csrf="forged", op="save")
    response = client.post("/playbooks/winback-60/edit", data=fields)
    assert response.status_code == 403
    assert _form(client, "/playbooks/winback-60/edit")["holdout"] == "0.2"
    client.cookies.clear()
    login(client, users["agent"], lang="en")
    assert client.get("/playbooks/winback-60/edit").status_code == 403
    assert client.get("/playbooks/new").status_code == 403
