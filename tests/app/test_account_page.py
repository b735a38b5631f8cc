"""A user changes their own password: the current one is checked, other logins end."""

from __future__ import annotations

import re

from _app_helpers import PASSWORD, login
from fastapi.testclient import TestClient


def _csrf(text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', text).group(1)


def test_changing_the_password_keeps_this_browser_and_ends_the_others(app, users):
    email = users["agent"]
    with TestClient(app) as here, TestClient(app) as elsewhere:
        login(here, email)
        login(elsewhere, email)
        page = here.get("/account?lang=ja")
        assert page.status_code == 200 and "パスワードの変更" in page.text
        csrf = _csrf(page.text)
        wrong = here.post(
            "/account/password",
            data={
                "current": "not it",
                "new": "a new passphrase",
                "repeat": "a new passphrase",
                "csrf": csrf,
            },
        )
        assert wrong.status_code == 403
        differ = here.post(
            "/account/password",
            data={
                "current": PASSWORD,
                "new": "a new passphrase",
                "repeat": "another one",
                "csrf": csrf,
            },
        )
        assert differ.status_code == 422
        done = here.post(
            "/account/password",
            data={
                "current": PASSWORD,
                "new": "a new passphrase",
                "repeat": "a new passphrase",
                "csrf": csrf,
            },
        )
        assert done.status_code == 200 and "ほかのブラウザ" in done.text
        assert here.get("/at-risk").status_code == 200  # still logged in here
        gone = elsewhere.get("/at-risk", follow_redirects=False)
        assert gone.status_code in (302, 303, 307) and "/login" in gone.headers["location"]
    with TestClient(app) as fresh:
        assert login(fresh, email, password=PASSWORD).status_code != 303
        assert login(fresh, email, password="a new passphrase").status_code == 303


def test_a_forged_form_changes_nothing(client, users):
    login(client, users["analyst"])
    forged = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "x" * 12, "repeat": "x" * 12, "csrf": "forged"},
    )
    assert forged.status_code == 403
    with TestClient(client.app) as other:
        assert login(other, users["analyst"]).status_code == 303
