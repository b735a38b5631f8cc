"""Dashboard pages on an empty warehouse say what is missing and which command produces it;
pages render in the language asked for, with localized numbers."""

from __future__ import annotations

import html
import re

import pytest
from _app_helpers import login
from fastapi.testclient import TestClient

from retain.app.main import create_app


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


def test_empty_warehouse_pages_name_the_missing_step(settings, warehouse, users):
    del users
    app = create_app(settings, warehouse=warehouse, migrate=True)
    from retain.app.auth import service as auth

    with app.state.sessionmaker() as session:
        auth.create_user(session, email="a@example.org", role="admin", password="long enough")
        session.commit()
    with TestClient(app) as browser:
        assert login(browser, "a@example.org", password="long enough").status_code == 303
        home = browser.get("/").text
        assert "No orders yet" in home and "retain ingest orders FILE" in home
        assert "retain churn score" in home and "retain clv predict" in home
        at_risk = browser.get("/at-risk?lang=ko").text
        assert "이탈 점수가 아직 없어" in at_risk and "retain churn score" in at_risk
        assert "retain ingest orders FILE" in browser.get("/retention").text
        assert "retain churn train" in browser.get("/models").text
        missing = browser.get("/customers/nobody?lang=ja")
        assert missing.status_code == 404 and "顧客 &#39;nobody&#39;" in missing.text


def test_pages_are_localized(client, users):
    login(client, users["admin"], lang="ja")
    page = client.get("/customers/c1").text
    assert "顧客 c1" in page and "2024/01/05" in page and "$500.00" in page
    assert "未解決の苦情" in page or "苦情" in page
    ko = client.get("/at-risk?lang=ko").text
    assert "이탈 위험 고객" in ko and "US$500.00" in ko
    retention = client.get("/retention?by=country&kind=revenue&lang=en")
    assert retention.status_code == 200 and "Cohort heatmap" in retention.text
    bad = client.get("/retention?period=fortnight")
    assert bad.status_code == 400


def test_saved_segment_form_needs_csrf(client, users):
    import re

    login(client, users["analyst"])
    page = client.get("/at-risk?risk_band=high")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    forged = client.post("/at-risk/segments", data={"name": "x", "csrf": "no", "filters": ""})
    assert forged.status_code == 403
    saved = client.post(
        "/at-risk/segments",
        follow_redirects=False,
        data={"name": "Hot", "csrf": csrf, "filters": "risk_band=high"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/at-risk?segment=Hot"
    listed = client.get("/at-risk?segment=Hot").text
    assert "c1" in listed and "c3" not in listed.split("</table>")[0].split("<tbody>")[1]


def test_page_permission_gives_the_403_page_or_a_start_page(app, users):
    """A page's declared permission: the HTML 403 page in the page language, or (for the
    overview) a redirect to where that role starts; nobody logged in goes to the login page."""
    with TestClient(app) as browser:
        assert browser.get("/retention", follow_redirects=False).headers["location"] == (
            "/login?next=%2Fretention"
        )
        assert login(browser, users["agent"], lang="ja").status_code == 303
        denied = browser.get("/retention?lang=ja")
        assert denied.status_code == 403
        assert denied.headers["content-type"].startswith("text/html")
        assert "あなたのロール（agent）ではこのページを開けません。" in denied.text
        home = browser.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/at-risk"
    with TestClient(app) as browser:
        assert login(browser, users["ingest"]).status_code == 303
        home = browser.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/docs"


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_customer_360_renders_whatever_scores_exist(settings, warehouse, lang):
    """A subscriber with a churn score but no lifetime value, one with neither, and a shop
    customer with both: every customer 360 renders, and says which command fills a gap."""
    import pandas as pd
    from _app_helpers import PASSWORD
    from _service_data import TABLES, load

    from retain.app.auth import service as auth

    tables = dict(TABLES)
    subscriber = pd.DataFrame(tables["subscriptions"]).assign(
        subscription_id="s2", customer_id="c5"
    )
    tables["subscriptions"] = pd.concat([tables["subscriptions"], subscriber], ignore_index=True)
    tables["churn_scores"] = tables["churn_scores"][tables["churn_scores"]["customer_id"] != "c6"]
    tables["clv_scores"] = tables["clv_scores"][tables["clv_scores"]["customer_id"] != "c6"]
    load(warehouse, tables)
    app = create_app(settings, warehouse=warehouse, migrate=True)
    with app.state.sessionmaker() as session:
        auth.create_user(session, email="a@example.org", role="admin", password=PASSWORD)
        session.commit()
    with TestClient(app) as browser:
        assert login(browser, "a@example.org", lang=lang).status_code == 303
        pages = {cid: browser.get(f"/customers/{cid}?lang={lang}") for cid in ("c1", "c5", "c6")}
        assert {cid: r.status_code for cid, r in pages.items()} == {"c1": 200, "c5": 200, "c6": 200}
        assert "retain clv predict" not in pages["c1"].text
        assert "retain clv predict" in pages["c5"].text  # no lifetime value yet
        assert "retain churn score" in pages["c6"].text and "retain clv predict" in pages["c6"].text


def test_overview_links_its_high_risk_count_to_that_list(client, users):
    login(client, users["admin"])
    home = client.get("/").text
    link = re.search(r'href="(/at-risk\?[^"]+)"', home)
    assert link and "definition=default" in link.group(1) and "risk_band=high" in link.group(1)
    listed = client.get(html.unescape(link.group(1))).text
    shown = len(re.findall(r'href="/customers/', listed))
    count = re.search(r"See the (\d+) high-risk", home)
    assert count and int(count.group(1)) == shown
