"""The dashboard in headless Chromium: log in, find the at-risk customers and why, open one,
read it in Japanese and Korean, export CSV, and move around with the keyboard."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from _e2e_helpers import SCREENSHOTS, log_in

pytestmark = pytest.mark.browser


def test_at_risk_journey_in_three_languages(page, live_server):
    log_in(page, live_server, role="analyst")
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("[data-kpi=churn_rate] .value").inner_text().endswith("%")
    assert page.locator("[data-kpi=at_risk] .value").inner_text().startswith("$")

    page.click("text=At-risk customers")
    page.wait_for_url("**/at-risk")
    rows = page.locator("table.at-risk tbody tr")
    assert rows.count() == 50
    first = rows.nth(0)
    assert first.locator(".band").inner_text() in {"High", "Medium", "Low"}
    assert first.locator(".reasons li").count() == 3
    reason = first.locator(".reasons li").nth(0).inner_text()
    assert "reasons." not in reason  # rendered text, not the message key
    customer_id = first.locator("th a").inner_text()

    first.locator("th a").click()
    page.wait_for_url(f"**/customers/{customer_id}")
    assert page.locator("h1").inner_text() == f"Customer {customer_id}"
    assert page.locator("ol.timeline li").count() >= 2
    assert page.locator("text=Contact details are hidden for your role.").count() == 1

    page.click("a[hreflang=ja]")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("h1").inner_text() == f"顧客 {customer_id}"
    assert "理由" in page.content()
    page.click("a[hreflang=ko]")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == f"고객 {customer_id}"
    page.click("text=이탈 위험 고객 >> nth=0")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "이탈 위험 고객"  # the choice sticks (cookie)


def test_filter_and_export_csv(page, live_server, tmp_path):
    log_in(page, live_server, role="analyst")
    page.goto(f"{live_server}/at-risk")
    page.check("input[name=risk_band][value=high]")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    bands = page.locator("table.at-risk .band").all_inner_texts()
    assert bands and set(bands) == {"High"}
    with page.expect_download() as download_info:
        page.click("#export-csv")
    path = Path(tmp_path / "export.csv")
    download_info.value.save_as(path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows and {r["risk_band"] for r in rows} == {"high"}
    assert "email" not in rows[0]


def test_agent_sees_contacts_but_cannot_export(page, live_server):
    log_in(page, live_server, role="agent")
    page.wait_for_url("**/at-risk")
    assert page.locator("#export-csv").count() == 0
    assert "@example.com" in page.locator("table.at-risk").inner_text()
    assert page.goto(f"{live_server}/at-risk.csv").status == 403


def test_keyboard_only(page, live_server):
    page.goto(f"{live_server}/login")
    assert page.evaluate("document.activeElement.id") == "email"  # autofocus
    page.keyboard.type("analyst@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("e2e passphrase")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Overview"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto(f"{live_server}/at-risk")
    for _ in range(100):  # tab through the header and filters to the first customer link
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('table.at-risk') !== null"):
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**/customers/*")
    assert page.locator("h1").inner_text().startswith("Customer ")


def test_tablet_width_has_no_horizontal_scroll(browser, live_server):
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    log_in(page, live_server, role="analyst")
    for path in ("/", "/at-risk", "/customers/C0001"):
        page.goto(f"{live_server}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, path
    context.close()


def test_screenshots(page, live_server, tmp_path):
    """Main pages in English, Japanese and Korean. With UPDATE_SCREENSHOTS=1 they are
    written to docs/screenshots/ (what the README shows); otherwise to a temporary folder."""
    target = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server, role="admin")
    page.goto(f"{live_server}/at-risk")
    customer = page.locator("table.at-risk tbody th a").nth(0).inner_text()
    for lang in ("en", "ja", "ko"):
        for name, path in (
            ("overview", "/"),
            ("at-risk", "/at-risk"),
            ("customer", f"/customers/{customer}"),
            ("retention", "/retention"),
        ):
            page.goto(f"{live_server}{path}?lang={lang}")
            page.wait_for_load_state("networkidle")
            assert page.locator("html").get_attribute("lang") == lang
            page.screenshot(path=str(target / f"{name}-{lang}.png"), full_page=False)
    assert len(list(target.glob("*.png"))) >= 12
