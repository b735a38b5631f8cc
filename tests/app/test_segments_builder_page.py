"""The saved-segment pages: list with the builder's form, one segment, its CSV; en/ja/ko."""

from __future__ import annotations

import html
import re

import pytest
from _app_helpers import login

JAPAN = '{"field": "country", "op": "=", "value": "JP"}'
TITLES = {"en": "Saved segments", "ja": "保存済みセグメント", "ko": "저장된 세그먼트"}


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text[:2000]
    return found.group(1)


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_build_a_segment_then_read_it(client, users, lang):
    login(client, users["analyst"], lang=lang)
    listing = client.get(f"/segments/saved?lang={lang}")
    assert listing.status_code == 200 and TITLES[lang] in listing.text
    assert 'id="no-saved"' in listing.text and 'id="builder"' in listing.text
    assert 'href="/segments/saved"' in client.get("/segments").text
    saved = client.post(
        "/segments/saved",
        data={"name": "japan", "rule": JAPAN, "description": "JP", "csrf": _csrf(listing.text)},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text[:2000]
    page = client.get(saved.headers["location"])
    assert page.status_code == 200 and "Traceback" not in page.text
    text = html.unescape(page.text)
    assert '"country"' in text and 'data-total="3"' in text  # c1, c3, c5 as of 2024-06-30
    assert [m for m in re.findall(r'href="/customers/([^"]+)"', text)] == ["c1", "c3", "c5"]
    # Size at twelve month ends up to the run: 3 Japanese customers at the last one.
    assert re.findall(r'data-customers="(\d+)"', text)[-1] == "3"
    assert 'href="/at-risk?segment=japan"' in text
    csv = client.get(saved.headers["location"] + "/members.csv")
    assert csv.status_code == 200 and csv.text == "customer_id\nc1\nc3\nc5\n"
    listing = client.get("/segments/saved")
    assert 'data-segment="japan"' in listing.text


def test_a_mistake_is_shown_above_the_form_with_what_was_typed(client, users):
    login(client, users["analyst"])
    listing = client.get("/segments/saved")
    typed = '{"all": [{"field": "tenur", "op": ">", "value": 9}]}'
    r = client.post(
        "/segments/saved",
        data={"name": "typo", "rule": typed, "csrf": _csrf(listing.text)},
    )
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert "rule.all[0].field: unknown field 'tenur'; did you mean 'tenure_days'?" in text
    assert typed in text and 'value="typo"' in text
    forged = client.post("/segments/saved", data={"name": "x", "rule": JAPAN, "csrf": "no"})
    assert forged.status_code == 403


def test_agents_do_not_see_saved_segments(client, users):
    login(client, users["agent"])
    assert client.get("/segments/saved").status_code == 403
    assert 'href="/segments/saved"' not in client.get("/segments").text
