"""The complaint status page in headless Chromium, in Japanese and Korean, on a phone.

An agent opens a complaint in the dashboard, moves it with a message to the customer and adds
an internal note; the customer opens the signed link with no login and reads the stage and the
message in their language, never the internal note, and script text in the subject stays text.
A link whose signature was tampered with shows the refusal and no details.
"""

from __future__ import annotations

from typing import Any

import pytest
from _e2e_helpers import log_in

SCRIPT = "<script>document.title='pwned'</script> =1+1"
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize(
    ("lang", "subject", "message", "investigating", "received", "refused"),
    [
        ("ja", "配送が遅れています", "確認しております", "調査中", "受付済み", "有効期限"),
        ("ko", "배송이 늦어요", "확인하고 있습니다", "조사 중", "접수됨", "만료"),
    ],
)
def test_customer_follows_a_complaint_in_their_language(
    live_server: str,
    browser: Any,
    page: Any,
    lang: str,
    subject: str,
    message: str,
    investigating: str,
    received: str,
    refused: str,
) -> None:
    log_in(page, live_server, role="agent")
    page.goto(f"{live_server}/tickets")
    page.fill("input[name=customer_id]", "c1")
    page.fill("input[name=subject]", f"{subject} {SCRIPT}")
    page.select_option("select[name=language]", lang)
    page.click("form[action='/tickets'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.fill("form:has(input[value=move]) textarea[name=text]", message)
    page.select_option("select[name=stage]", "investigating")
    page.click("form:has(input[value=move]) button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.fill("form:has(input[value=note]) textarea[name=text]", "internal: refund likely")
    page.click("form:has(input[value=note]) button[type=submit]")
    page.wait_for_load_state("networkidle")
    link = page.get_attribute("[data-testid=status-link]", "href")
    assert link and link.startswith("/t/")

    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale={"ja": "ja-JP", "ko": "ko-KR"}[lang]
    )
    customer = context.new_page()
    customer.set_default_timeout(30_000)
    problems: list[str] = []
    customer.on("pageerror", lambda e: problems.append(str(e)))
    try:
        customer.goto(f"{live_server}{link}")
        assert customer.get_attribute("html", "lang") == lang
        current = customer.inner_text("[data-testid=current-stage]")
        assert current == investigating
        body = customer.inner_text("body")
        assert received in body and message in body
        assert "internal: refund likely" not in body
        assert SCRIPT.split(" =")[0] in customer.inner_text("[data-testid=subject]")
        assert customer.title() != "pwned"
        assert customer.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        head, _, mac = link.rpartition(".")
        tampered = f"{head}.{'A' * len(mac)}"
        response = customer.goto(f"{live_server}{tampered}")
        assert response is not None and response.status == 410
        assert refused in customer.inner_text("[data-testid=refused]")
        assert message not in customer.inner_text("body")
        assert problems == []
    finally:
        context.close()
