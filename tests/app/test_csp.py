"""Every dashboard page carries a Content-Security-Policy that allows only the dashboard's own
script and stylesheet, and no page needs more (no inline script, <style> or event handler);
other responses get a policy that loads nothing (issue #16 item 19)."""

from __future__ import annotations

import re
from typing import Any

from _app_helpers import headers, login
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

# Every HTML page, with a path for each parameter.
PAGES = {
    "/": "/",
    "/retention": "/retention",
    "/at-risk": "/at-risk",
    "/customers/{customer_id:path}": "/customers/c1",
    "/models": "/models",
    "/segments": "/segments",
    "/segments/movement/{start}/{end}/{from_segment}/{to_segment}": (
        "/segments/movement/2024-05-31/2024-06-30/loyal/lost"
    ),
    "/docs": "/docs",
    "/login": "/login",
    "/admin/users": "/admin/users",
    "/admin/keys": "/admin/keys",
    "/admin/audit": "/admin/audit",
    "/account": "/account",
}


def _policy(response: Any) -> dict[str, list[str]]:
    header = response.headers.get("content-security-policy")
    assert header, f"{response.request.url} has no Content-Security-Policy"
    out: dict[str, list[str]] = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        out[name] = values
    return out


def _assert_page_policy(response: Any) -> None:
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert all("unsafe-eval" not in v for vs in policy.values() for v in vs)
    html = response.text
    # What the policy would block: inline scripts, <style> elements, event handler attributes,
    # javascript: links, assets from elsewhere.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), response.request.url
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert "javascript:" not in html
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html)


def test_every_page_has_the_policy(app, client, users):
    html_routes = {
        r.path
        for r in app.routes
        if isinstance(r, APIRoute) and "GET" in r.methods and r.response_class is HTMLResponse
    }
    assert html_routes <= set(PAGES), f"pages without a CSP check: {html_routes - set(PAGES)}"
    login_page = client.get("/login")
    assert login_page.status_code == 200
    _assert_page_policy(login_page)
    login(client, users["admin"])
    for lang in ("en", "ja"):
        for path in PAGES.values():
            page = client.get(path, params={"lang": lang})
            assert page.status_code == 200, (path, page.status_code)
            assert page.headers["content-type"].startswith("text/html")
            _assert_page_policy(page)
    missing = client.get("/customers/nobody-at-all")
    assert missing.headers["content-type"].startswith("text/html")
    _assert_page_policy(missing)


def test_other_responses_load_nothing(client, keys):
    for response in (
        client.get("/api/v1/me", headers=headers(keys["analyst"])),
        client.get("/api/v1/nothing-here"),
        client.get("/static/app.css"),
    ):
        policy = _policy(response)
        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
