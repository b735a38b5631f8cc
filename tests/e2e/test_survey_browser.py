"""The survey page and the cancellation flow in headless Chromium, in Japanese and Korean, on a
phone-sized screen, under the service's Content-Security-Policy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import retain.warehouse as wh
from retain.config import Settings
from retain.i18n import language, t

PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SCRIPT = "<script>document.title='pwned'</script> =1+1"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The service with the e2e shop, and its app (to make links and read what was stored)."""
    import _shop
    import uvicorn

    from retain.app.main import create_app

    root = tmp_path_factory.mktemp("e2e-surveys")
    con = wh.connect(f"duckdb:///{root / 'warehouse.duckdb'}")
    wh.create_tables(con)
    _shop.load(con)
    settings = Settings(
        database_url=f"sqlite:///{root / 'app.db'}",
        warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
        models_dir=root / "models",
    )
    app = create_app(settings, warehouse=con, migrate=True)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url, app
    server.should_exit = True
    thread.join(timeout=10)
    con.disconnect()


def _secret(app: Any) -> str:
    from retain.app.auth import service as auth

    with app.state.sessionmaker() as s:
        return auth.service_secret(s, app.state.settings.service.secret_key)


def _phone(browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on(
        "console",
        # the refused link's 409 and the absent /favicon.ico are expected; a CSP block is not
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


@pytest.mark.parametrize(
    ("lang", "customer", "question", "thanks", "used"),
    [
        ("ja", "C0001", "友人や同僚に勧める", "ご回答を受け付けました", "すでに使用されています"),
        ("ko", "C0002", "추천할 가능성", "응답이 기록되었습니다", "이미 사용된 링크"),
    ],
)
def test_a_detractor_answers_the_survey_on_a_phone(
    browser, served, lang, customer, question, thanks, used
):
    from retain.voice import surveys
    from retain.voice._survey_tables import FollowUpTask, SurveyResponse

    url, app = served
    with app.state.sessionmaker() as s:
        inv = surveys.invite(s, _secret(app), survey="nps", customer_id=customer, language=lang)
        s.commit()
    context, page, problems = _phone(browser)
    page.goto(f"{url}/s/{inv.token}")
    assert page.locator("html").get_attribute("lang") == lang
    assert question in page.locator("legend").inner_text()
    _no_sideways_scroll(page)
    page.locator('input[name="score"][value="2"] + span').click()
    page.locator('textarea[name="comment"]').fill(SCRIPT)
    page.locator("button[type=submit]").click()
    assert thanks in page.get_by_test_id("thanks").inner_text()
    assert page.title() != "pwned"
    page.goto(f"{url}/s/{inv.token}?lang={lang}")  # the link again: used
    assert used in page.get_by_test_id("refused").inner_text()
    assert problems == []  # no CSP violation, no script error
    context.close()
    with app.state.sessionmaker() as s:
        (answer,) = s.scalars(select(SurveyResponse).where(SurveyResponse.customer_id == customer))
        assert (answer.score, answer.comment) == (2, SCRIPT.strip())
        assert s.scalars(select(FollowUpTask).where(FollowUpTask.customer_id == customer)).all()
    it = app.state.warehouse.con.table("interactions")
    kinds = it.filter(it.customer_id == customer).kind.to_pyarrow().to_pylist()
    assert "survey_answer" in kinds


@pytest.mark.parametrize(
    ("lang", "customer", "reason", "offer_text", "choice", "done"),
    [
        ("ja", "C0003", "料金が高い", "割引", "この提案を受ける", "引き続きのご利用"),
        ("ko", "C0004", "잠시 쉬고 싶을 뿐입니다", "일시 정지", "구독을 해지합니다", "해지가 접수"),
    ],
)
def test_the_cancellation_flow(browser, served, lang, customer, reason, offer_text, choice, done):
    from retain.voice import cancel
    from retain.voice._survey_tables import CancellationRecord

    url, app = served
    token = cancel.cancel_link(_secret(app), customer, language=lang)
    context, page, problems = _phone(browser)
    page.goto(f"{url}/cancel/{token}")
    _no_sideways_scroll(page)
    page.get_by_label(reason).check()
    page.locator('textarea[name="comment"]').fill(SCRIPT)
    page.locator("button[type=submit]").click()
    shown = page.get_by_test_id("offer").inner_text()
    _no_sideways_scroll(page)
    page.get_by_role("button", name=choice).click()
    assert done in page.get_by_test_id("outcome").inner_text()
    page.goto(f"{url}/cancel/{token}")
    assert page.get_by_test_id("refused").is_visible()
    assert problems == []
    context.close()
    with app.state.sessionmaker() as s:
        (rec,) = s.scalars(
            select(CancellationRecord).where(CancellationRecord.customer_id == customer)
        )
    assert rec.outcome == ("saved" if "提案" in choice else "cancelled")
    with language(lang):  # the offer made is the one shown, in the page's language
        assert t(f"voice_surveys.offer.{rec.offer}") in shown
    if rec.offer_basis == "plan":  # the service's plan targets this customer
        assert rec.plan_id
    else:  # outside the plan: the reason's fallback
        assert offer_text in shown and rec.offer == cancel.FALLBACK_OFFERS[rec.reason or ""]
    it = app.state.warehouse.con.table("interactions")
    kinds = it.filter(it.customer_id == customer).kind.to_pyarrow().to_pylist()
    assert "exit_survey" in kinds


def test_a_forged_link_shows_the_refusal(browser, served):
    url, _app = served
    context, page, _problems = _phone(browser)
    response = page.goto(f"{url}/s/eyJwIjoic3VydmV5In0.AAAA?lang=ko")
    assert response.status == 400
    assert "유효하지 않은" in page.get_by_test_id("refused").inner_text()
    context.close()
