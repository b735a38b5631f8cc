"""The segments page: RFM sizes, movement with its customer lists, value x risk, sources.

On the service's mixed business (orders, a subscription, churn and CLV scores) with RFM stored at
two dates, and on shop-only and subscription-only warehouses, in English, Japanese and Korean.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd
import pytest
from _app_helpers import PASSWORD, login
from fastapi.testclient import TestClient

import retain.warehouse as wh
from retain.app.auth import service as auth
from retain.app.main import create_app
from retain.config import Settings
from retain.targeting.segments import movement_matrix, movers, rfm_scores, store_memberships

START, END = "2024-03-01", "2024-06-30"
NONE_STORED = {
    "en": "No RFM segments are stored yet.",
    "ja": "RFM セグメントはまだ保存されていません。",
    "ko": "저장된 RFM 세그먼트가 아직 없습니다.",
}
TITLE = {"en": "Segments", "ja": "セグメント", "ko": "세그먼트"}
CHAMPIONS = {"en": "Champions", "ja": "優良顧客", "ko": "최우수 고객"}


def _page(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text[:2000]
    assert "Traceback" not in response.text
    return html.unescape(response.text)


def _store_two_dates(con: Any) -> None:
    orders = con.table("orders")
    for day in (START, END):
        store_memberships(con, "rfm", day, rfm_scores(orders, day))


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_without_memberships_the_page_names_the_command(
    client: TestClient, users: dict[str, str], lang: str
) -> None:
    login(client, users["analyst"], lang=lang)
    text = _page(client, f"/segments?lang={lang}")
    assert NONE_STORED[lang] in text
    assert "retain segments rfm" in text
    assert f"<h1>{TITLE[lang]}</h1>" in text
    # The grid and the source table do not wait for memberships.
    assert re.search(r'<table class="data grid" data-total="\d+"', text)
    assert 'data-dimension="first_discount" data-source="none"' in text
    assert 'href="/segments"' in text  # the nav link, beside the at-risk list


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_sizes_and_movement_link_to_each_transition(
    client: TestClient, users: dict[str, str], loaded_warehouse: Any, lang: str
) -> None:
    _store_two_dates(loaded_warehouse)
    matrix = movement_matrix(loaded_warehouse, "rfm", START, END)
    login(client, users["admin"], lang=lang)
    text = _page(client, f"/segments?lang={lang}")
    assert NONE_STORED[lang] not in text
    assert f'data-total="{int(matrix.to_numpy().sum())}"' in text
    links = re.findall(r'href="(/segments/movement/[^"]+)"', text)
    cells = [(s, d) for s in matrix.index for d in matrix.columns if matrix.loc[s, d]]
    assert len(links) == len(cells) > 0
    source, target = cells[0]
    want = movers(loaded_warehouse, "rfm", START, END, from_segment=source, to_segment=target)
    ids = want.to_pandas()["customer_id"].tolist()
    link = f"/segments/movement/{START}/{END}/{source}/{target}"
    assert link in links
    listed = _page(client, f"{link}?lang={lang}")
    assert f'data-total="{len(ids)}"' in listed
    for cid in ids:
        assert f'href="/customers/{cid}"' in listed
        assert f"{cid}@example.com" in listed  # admins see contact details


def test_contact_details_follow_the_role(
    client: TestClient, users: dict[str, str], loaded_warehouse: Any
) -> None:
    _store_two_dates(loaded_warehouse)
    pairs = movement_matrix(loaded_warehouse, "rfm", START, END)
    source = next(s for s in pairs.index if pairs.loc[s].sum())
    target = next(d for d in pairs.columns if pairs.loc[source, d])
    path = f"/segments/movement/{START}/{END}/{source}/{target}"
    login(client, users["analyst"])
    assert "@example.com" not in _page(client, path)  # analysts do not see personal data
    client.post("/logout", follow_redirects=False)
    client.cookies.clear()
    login(client, users["admin"])
    assert "@example.com" in _page(client, path)
    client.cookies.clear()
    login(client, users["agent"])  # an agent sees only the customers of their own queue
    assert client.get(path).status_code == 403
    client.cookies.clear()
    login(client, users["ingest"])
    assert client.get("/segments").status_code == 403
    assert client.get(path).status_code == 403


def test_bad_or_unstored_transition_is_a_clear_error(
    client: TestClient, users: dict[str, str], loaded_warehouse: Any
) -> None:
    _store_two_dates(loaded_warehouse)
    login(client, users["admin"])
    assert client.get(f"/segments/movement/{START}/{END}/loyal/nobody").status_code == 400
    assert client.get(f"/segments/movement/{START}/June/loyal/lost").status_code == 400
    assert client.get(f"/segments/movement/{START}/{END}/loyal/lost?page=0").status_code == 400
    missing = client.get(f"/segments/movement/2020-01-01/{END}/loyal/lost")
    assert missing.status_code == 200  # data not there yet: the page says which command
    assert 'id="not-stored"' in missing.text
    assert "retain segments rfm --as-of 2020-01-01" in html.unescape(missing.text)


def _browser(settings: Settings, con: Any) -> TestClient:
    app = create_app(settings, warehouse=con, migrate=True)
    with app.state.sessionmaker() as session:
        auth.create_user(session, email="a@example.org", role="admin", password=PASSWORD)
        session.commit()
    return TestClient(app)


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_shop_only_warehouse_with_one_stored_date(
    settings: Settings, warehouse: Any, lang: str
) -> None:
    from _service_data import ORDERS

    wh.write_table(warehouse, "orders", ORDERS.drop(columns=["channel"]), mode="append")
    store_memberships(warehouse, "rfm", END, rfm_scores(warehouse.table("orders"), END))
    with _browser(settings, warehouse) as client:
        login(client, "a@example.org", lang=lang)
        text = _page(client, f"/segments?lang={lang}")
    assert 'id="rfm-sizes"' in text and 'id="one-date"' in text
    assert CHAMPIONS[lang] in text
    assert 'data-dimension="channel" data-source="unknown"' in text


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_subscription_only_warehouse(settings: Settings, warehouse: Any, lang: str) -> None:
    subs = pd.DataFrame(
        {
            "subscription_id": ["s1", "s2"],
            "customer_id": ["t1", "t2"],
            "plan": ["basic"] * 2,
            "started_at": pd.to_datetime(["2024-01-10"] * 2),
            "billing_period": ["month"] * 2,
            "amount": [10.0] * 2,
            "currency": ["USD"] * 2,
        }
    )
    wh.write_table(warehouse, "subscriptions", subs, mode="append")
    with _browser(settings, warehouse) as client:
        login(client, "a@example.org", lang=lang)
        text = _page(client, f"/segments?lang={lang}")
    assert NONE_STORED[lang] in text
    assert 'id="sources"' in text and "<table" not in text.split('id="value-risk"')[1]
