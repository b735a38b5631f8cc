"""At-risk list and customer 360 over HTTP, on SQLite and PostgreSQL app databases."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from _app_helpers import assign_cases, headers, login
from fastapi.testclient import TestClient


@pytest.fixture
def database_url(tmp_path):
    """These reads touch the warehouse, not the app database: SQLite is enough here (the app
    database suites in test_auth, test_segments, test_ingest and test_authz run on both)."""
    return f"sqlite:///{tmp_path / 'app.db'}"


ALL = ["high", "medium", "low"]


@pytest.fixture(autouse=True)
def _agent_queue(app: Any) -> None:
    """The agent key works every customer here (an agent opens its queue's only, issue 20)."""
    assign_cases(app, "agent-key", "c1", "c2", "c3", "c4", "c5", "c6", "EU/7")


def _at_risk(client: TestClient, key: str, **params: Any) -> Any:
    r = client.get("/api/v1/customers/at-risk", headers=headers(key), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_at_risk_defaults_to_highest_value_at_risk_with_latest_scores(client, keys):
    default = _at_risk(client, keys["analyst"])  # high and medium only
    assert [r["customer_id"] for r in default["data"]] == ["c1", "c3", "c2"]
    assert default["count"] == 3 and default["definition"] == "default"
    assert default["as_of"].startswith("2024-06-30")
    page = _at_risk(client, keys["analyst"], risk_band=ALL)
    # at-risk value = p(churn) x CLV: c1 .91x500, c3 .55x300, c2 .72x120, c4 .3x40, c5 no CLV
    assert [r["customer_id"] for r in page["data"]] == ["c1", "c3", "c2", "c4", "c5"]
    assert page["count"] == 5
    assert page["data"][-1]["at_risk_value"] is None  # unknown without a CLV, not 0
    c1 = page["data"][0]
    assert c1["probability"] == 0.91  # the newer of c1's two scores
    assert c1["at_risk_value"] == 455.0
    assert c1["reasons"][0] == {
        "key": "reasons.complaints_unresolved",
        "params": {"n": 1, "days": 12},
        "contribution": 0.4,
        "text": "1 complaint(s) unresolved, the oldest for 12 days",
    }
    assert page["data"][-1]["clv"] is None and page["data"][-1]["reasons"] == []  # bad JSON


def test_filters_by_band_clv_range_country_and_sorts(client, keys):
    key = keys["analyst"]
    assert [r["customer_id"] for r in _at_risk(client, key, risk_band="high")["data"]] == [
        "c1",
        "c2",
    ]
    both = _at_risk(client, key, risk_band=["high", "medium"], sort="probability", order="asc")
    assert [r["customer_id"] for r in both["data"]] == ["c3", "c2", "c1"]
    ranged = _at_risk(client, key, clv_min=100, clv_max=300, sort="clv")
    assert [r["customer_id"] for r in ranged["data"]] == ["c3", "c2"]
    assert [r["customer_id"] for r in _at_risk(client, key, country="KR")["data"]] == ["c2"]
    by_id = _at_risk(client, key, sort="customer_id", order="asc", risk_band=ALL)
    assert [r["customer_id"] for r in by_id["data"]] == ["c1", "c2", "c3", "c4", "c5"]


def test_cursor_paging_visits_every_row_once(client, keys):
    for sort in ("at_risk_value", "probability", "clv", "customer_id"):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = _at_risk(client, keys["analyst"], **params)
            seen += [r["customer_id"] for r in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        full = [r["customer_id"] for r in _at_risk(client, keys["analyst"], sort=sort)["data"]]
        assert seen == full, sort


def test_pii_only_for_admin_and_agent(client, keys):
    for role, visible in (("admin", True), ("agent", True), ("analyst", False)):
        row = _at_risk(client, keys[role])["data"][0]
        assert (row["email"] == "c1@example.com") is visible, role
        c360 = client.get("/api/v1/customers/c1", headers=headers(keys[role])).json()
        assert c360["pii_visible"] is visible
        assert (c360["profile"]["phone"] is not None) is visible


def test_reasons_render_in_the_request_language(client, keys):
    ja = _at_risk(client, keys["agent"], lang="ja")["data"][0]["reasons"][0]["text"]
    ko = client.get(
        "/api/v1/customers/at-risk",
        headers=headers(keys["agent"], **{"Accept-Language": "ko-KR,ko;q=0.9"}),
    ).json()["data"][0]["reasons"][0]["text"]
    assert ja != ko
    assert "12" in ja and "12" in ko
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in ja)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in ko)


def test_customer_360_merges_a_timeline_newest_first(client, keys):
    r = client.get("/api/v1/customers/c1", headers=headers(keys["agent"]))
    assert r.status_code == 200
    body = r.json()
    assert [o["order_id"] for o in body["orders"]] == ["o3", "o2", "o1"]
    assert body["profile"]["attributes"] == {"segment": "vip"}
    assert body["events"][0]["properties"] == {"page": "/cancel"}
    assert body["subscriptions"][0]["trial_ends_at"] is None
    kinds = [item["kind"] for item in body["timeline"]]
    assert {
        "order",
        "event",
        "subscription_start",
        "subscription_end",
        "interaction",
        "score",
    } <= set(kinds)
    stamps = [item["at"] for item in body["timeline"]]
    assert stamps == sorted(stamps, reverse=True)
    assert body["clv"]["clv"] == 500.0
    assert body["churn"][0]["probability"] == 0.91 and len(body["churn"]) == 1


def test_single_customer_scores(client, keys):
    body = client.get("/api/v1/customers/c2/scores", headers=headers(keys["analyst"])).json()
    assert body["churn"][0]["risk_band"] == "high"
    assert body["clv"]["clv"] == 120.0
    missing = client.get("/api/v1/customers/nobody/scores", headers=headers(keys["analyst"]))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "customers.no_scores"


def test_unknown_customer_is_404(client, keys):
    r = client.get("/api/v1/customers/nobody", headers=headers(keys["agent"]))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "customers.not_found"


def test_csv_export_for_analyst_has_no_pii_and_is_audited(client, keys):
    r = client.get(
        "/api/v1/customers/at-risk.csv",
        headers=headers(keys["analyst"]),
        params={"risk_band": "high", "lang": "ja"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["customer_id"] for row in rows] == ["c1", "c2"]
    assert "email" not in rows[0] and "c1@example.com" not in r.text
    assert "12" in rows[0]["reasons"] and "days" not in rows[0]["reasons"]
    audit = client.get(
        "/api/v1/audit", headers=headers(keys["admin"]), params={"action": "at_risk.export"}
    ).json()
    assert audit["count"] == 1
    entry = audit["data"][0]
    assert entry["actor"] == "analyst-key" and entry["details"]["rows"] == 2


def test_admin_export_includes_contact_columns(client, keys):
    r = client.get("/api/v1/customers/at-risk.csv", headers=headers(keys["admin"]))
    header = next(csv.reader(io.StringIO(r.text)))
    assert header[-2:] == ["email", "phone"]


def test_page_size_is_capped_by_settings(client, keys):
    r = client.get(
        "/api/v1/customers/at-risk", headers=headers(keys["analyst"]), params={"limit": 501}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "parameter.limit"


def test_forged_cursor_is_a_clear_error(client, keys):
    r = client.get(
        "/api/v1/customers/at-risk",
        headers=headers(keys["analyst"]),
        params={"cursor": "not-a-cursor"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "parameter.cursor"
    assert r.json()["error"]["hint"]


def test_no_customer_pii_reaches_the_audit_log(client, keys, app):
    client.get("/api/v1/customers/at-risk.csv", headers=headers(keys["admin"]))
    client.get("/api/v1/customers/c1", headers=headers(keys["agent"]))
    from retain.app.audit.models import AuditEntry

    with app.state.sessionmaker() as session:
        text = json.dumps([(e.details, e.target_id) for e in session.query(AuditEntry)])
    assert "@example.com" not in text and "+81" not in text


def test_overview_value_at_risk_is_the_sum_of_the_list(client, keys):
    """Value at risk has one definition (retain.targeting.value): the headline and the rows
    agree on the same data (455 + 165 + 86.4 + 12 + 0)."""
    page = _at_risk(client, keys["analyst"], risk_band=ALL)
    overview = client.get("/api/v1/metrics/overview", headers=headers(keys["analyst"])).json()
    total = sum(r["at_risk_value"] or 0.0 for r in page["data"])
    assert overview["at_risk"]["at_risk_value"] == pytest.approx(total) == pytest.approx(718.4)
    assert overview["at_risk"]["scored"] == page["count"] == 5


def test_customer_360_body_is_checked_against_its_schema(client, keys, monkeypatch):
    """read_customer returns what Customer360 declares, not whatever the service built."""
    from retain.app.customers import service

    real = service.customer_360

    def leaky(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**real(*args, **kwargs), "internal_note": "not for callers"}

    monkeypatch.setattr(service, "customer_360", leaky)
    r = client.get("/api/v1/customers/c1", headers=headers(keys["agent"]))
    assert r.status_code == 200 and "internal_note" not in r.json()
    assert r.json()["churn"][0]["probability"] == 0.91


def test_at_risk_page_keeps_every_band_in_its_links(client, users):
    login(client, users["analyst"])
    page = client.get("/at-risk", params={"risk_band": ["high", "medium"], "limit": 1})
    assert page.status_code == 200
    assert "risk_band=high&amp;risk_band=medium&amp;limit=1&amp;cursor=" in page.text
    assert 'href="/at-risk.csv?risk_band=high&amp;risk_band=medium&amp;limit=1"' in page.text
    bad = client.get("/at-risk", params={"clv_min": "lots"})
    assert bad.status_code == 422 and "clv_min" in bad.text


def test_at_risk_form_as_a_browser_submits_it(client, users):
    """The filter form sends every field, blanks included; the CSV link exports that filter."""
    login(client, users["analyst"])
    form = "lang=en&risk_band=high&segment=&clv_min=&clv_max=&country=&sort=clv&order=asc"
    page = client.get(f"/at-risk?{form}")
    assert page.status_code == 200
    table = page.text.split("<tbody>")[1].split("</tbody>")[0]
    assert table.index("/customers/c2") < table.index("/customers/c1")  # CLV 120 before 500
    assert "/customers/c3" not in table
    assert '<option value="asc" selected>' in page.text
    export = client.get("/at-risk.csv?risk_band=high&segment=&clv_min=&sort=clv&order=asc")
    assert [row["customer_id"] for row in csv.DictReader(io.StringIO(export.text))] == ["c2", "c1"]


# -- the list a team can work: lines, filters, ids with "/" (#16 items 2, 3, 19) ----------------


@pytest.fixture
def settings(database_url, tmp_path):
    """Two business lines: the shop (first, the default) and a contractual subscription line."""
    from retain.config import ChurnDefinition, Settings

    lines = [
        ChurnDefinition(name="default", horizon_days=90),
        ChurnDefinition(name="subscription", kind="contractual", horizon_days=30),
    ]
    return Settings(
        database_url=database_url,
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        models_dir=tmp_path / "models",
        churn=lines,
    )


def _add(con: Any, name: str, rows: list[dict[str, Any]]) -> None:
    """Rows appended to this test's own copy of the warehouse (columns not given are null)."""
    import pandas as pd

    import retain.warehouse as wh
    from retain.schema import get_table

    columns = [c.name for c in get_table(name).columns]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    wh.write_table(con, name, frame, mode="append")


def _subscription_line(con: Any) -> None:
    """The subscription line scored twice: c1 (ended May 1) only in May, c2 and c3 in June."""
    import datetime as dt

    may, june = dt.datetime(2024, 5, 1), dt.datetime(2024, 6, 1)

    def score(cid: str, as_of: dt.datetime, p: float, band: str) -> dict[str, Any]:
        return {"customer_id": cid, "as_of": as_of, "definition": "subscription",
                "probability": p, "risk_band": band, "reasons": "[]", "model_version": "1",
                "scored_at": as_of}  # fmt: skip

    _add(con, "churn_scores", [
        score("c1", may, 0.95, "high"),
        score("c2", june, 0.81, "high"),
        score("c3", june, 0.62, "medium"),
    ])  # fmt: skip
    start = dt.datetime(2024, 1, 1)
    _add(con, "subscriptions", [
        {"subscription_id": "s2", "customer_id": "c2", "plan": "gold", "started_at": start},
        {"subscription_id": "s3", "customer_id": "c3", "plan": "basic", "started_at": start,
         "ended_at": dt.datetime(2024, 6, 10)},
    ])  # fmt: skip


def test_the_subscription_line_is_its_own_list(client, keys, users, loaded_warehouse):
    _subscription_line(loaded_warehouse)
    page = _at_risk(client, keys["analyst"], definition="subscription")
    # c1's only score is from an older run; c3's subscription ended June 10 (before today)
    assert [r["customer_id"] for r in page["data"]] == ["c2"]
    assert page["definition"] == "subscription" and page["as_of"].startswith("2024-06-01")
    assert page["data"][0]["at_risk_value"] == pytest.approx(0.81 * 120)
    login(client, users["analyst"])
    html = client.get("/at-risk", params={"definition": "subscription"}).text
    table = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "/customers/c2" in table and "/customers/c1" not in table  # not the shop's list
    assert '<option value="subscription" selected>' in html
    assert "Line subscription, latest scoring run as of" in html
    shop = client.get("/at-risk").text
    assert '<option value="default" selected>' in shop and "/customers/c1" in shop


def test_an_unknown_line_is_refused_naming_the_lines(client, keys, users):
    r = client.get(
        "/api/v1/customers/at-risk", headers=headers(keys["analyst"]), params={"definition": "b2b"}
    )
    assert r.status_code == 422 and "definition" in r.text and "default, subscription" in r.text
    login(client, users["analyst"])
    assert client.get("/at-risk", params={"definition": "b2b"}).status_code == 422


def test_search_reason_plan_tenure_and_country(client, keys, loaded_warehouse):
    _subscription_line(loaded_warehouse)

    def ids(key: str, **params: Any) -> list[str]:
        return [r["customer_id"] for r in _at_risk(client, key, **params)["data"]]

    analyst, agent = keys["analyst"], keys["agent"]
    assert ids(analyst, search="C3") == ["c3"]
    assert ids(agent, search="c2@EXAMPLE") == ["c2"] and ids(analyst, search="c2@example") == []
    assert ids(analyst, reason="payment_failed") == ["c3"]
    assert ids(analyst, reason="no_recent_orders", sort="customer_id", order="asc") == ["c1", "c2"]
    assert ids(analyst, country="jp") == ["c1", "c3"]
    assert ids(analyst, definition="subscription", plan="GOLD") == ["c2"]
    # tenure on June 30: c1 177 days, c2 162, c3 148
    assert ids(analyst, tenure_min=150, tenure_max=170) == ["c2"]
    r = client.get(
        "/api/v1/customers/at-risk", headers=headers(analyst), params={"reason": "horoscope"}
    )
    assert r.status_code == 422 and "reason" in r.text


def test_no_clv_is_shown_as_not_available(client, users):
    login(client, users["analyst"])
    html = client.get("/at-risk", params={"risk_band": "low"}).text
    row = html.split("/customers/c5")[1].split("</tr>")[0]
    assert "n/a" in row and "$0.00" not in row


def test_ids_with_a_slash_reach_the_api_and_the_pages(client, keys, users, loaded_warehouse):
    import datetime as dt

    _add(loaded_warehouse, "customers", [{"customer_id": "EU/7", "country": "DE"}])
    _add(loaded_warehouse, "churn_scores", [
        {"customer_id": "EU/7", "as_of": dt.datetime(2024, 6, 30), "definition": "default",
         "probability": 0.99, "risk_band": "high", "reasons": "[]", "model_version": "2",
         "scored_at": dt.datetime(2024, 6, 30)},
    ])  # fmt: skip
    r = client.get("/api/v1/customers/EU/7", headers=headers(keys["agent"]))
    assert r.status_code == 200 and r.json()["customer_id"] == "EU/7"
    scores = client.get("/api/v1/customers/EU%2F7/scores", headers=headers(keys["agent"]))
    assert scores.status_code == 200 and scores.json()["churn"][0]["probability"] == 0.99
    login(client, users["analyst"])
    listing = client.get("/at-risk", params={"country": "de"}).text
    assert 'href="/customers/EU/7"' in listing
    page = client.get("/customers/EU/7")
    assert page.status_code == 200 and "EU/7" in page.text


def test_a_segment_saved_with_the_new_filters_lists_and_applies(client, keys, users):
    import re

    login(client, users["analyst"])
    page = client.get("/at-risk", params={"reason": "payment", "tenure_min": 100})
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    filters = "reason=payment&tenure_min=100"
    saved = client.post(
        "/at-risk/segments",
        data={"csrf": token.group(1), "name": "payers", "filters": filters},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    listed = client.get("/api/v1/segments", headers=headers(keys["analyst"]))
    assert listed.status_code == 200, listed.text  # stored new filters read back
    (segment,) = [s for s in listed.json()["data"] if s["name"] == "payers"]
    assert segment["filters"]["reason"] == "payment" and segment["filters"]["tenure_min"] == 100
    page = _at_risk(client, keys["analyst"], segment="payers")
    assert [r["customer_id"] for r in page["data"]] == ["c3"]  # 148 days, a failed payment
    assert _at_risk(client, keys["analyst"], segment="payers", plan="gold")["count"] == 0


def test_saving_a_list_that_shows_a_segment_keeps_what_the_segment_chose(client, keys, users):
    """Saving from ``/at-risk?segment=payers`` keeps payers' filters (it saved none before),
    and the export of that list records the segment and the rule it ran in the audit log."""
    import re

    login(client, users["analyst"])
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/at-risk").text)
    assert token
    for name, filters in (("payers", "reason=payment&tenure_min=100"), ("copy", "segment=payers")):
        saved = client.post(
            "/at-risk/segments",
            data={"csrf": token.group(1), "name": name, "filters": filters},
            follow_redirects=False,
        )
        assert saved.status_code == 303
    page = _at_risk(client, keys["analyst"], segment="copy")
    assert [r["customer_id"] for r in page["data"]] == ["c3"]
    exported = client.get(
        "/api/v1/customers/at-risk.csv",
        headers=headers(keys["analyst"]),
        params={"segment": "copy"},
    )
    assert exported.status_code == 200
    audit = client.get(
        "/api/v1/audit", headers=headers(keys["admin"]), params={"action": "at_risk.export"}
    ).json()
    details = audit["data"][0]["details"]
    assert details["segment"] == "copy" and details["reason"] == "payment"
    assert details["rule"] is None  # filters only: no rule was saved
    japan = {"field": "country", "op": "=", "value": "JP"}
    made = client.post(
        "/api/v1/segments", headers=headers(keys["analyst"]), json={"name": "jp", "rule": japan}
    )
    assert made.status_code == 201, made.text
    saved = client.post(
        "/at-risk/segments",
        data={"csrf": token.group(1), "name": "jp-copy", "filters": "segment=jp"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert [
        r["customer_id"] for r in _at_risk(client, keys["analyst"], segment="jp-copy")["data"]
    ] == [r["customer_id"] for r in _at_risk(client, keys["analyst"], segment="jp")["data"]]
    client.get(
        "/api/v1/customers/at-risk.csv", headers=headers(keys["analyst"]), params={"segment": "jp"}
    )
    audit = client.get(
        "/api/v1/audit", headers=headers(keys["admin"]), params={"action": "at_risk.export"}
    ).json()
    assert audit["data"][0]["details"]["rule"] == japan


def test_the_high_risk_kpi_drills_down_to_its_customers(client, keys):
    """The overview's "N high-risk customers" is the list at ?definition=LINE&risk_band=high."""
    overview = client.get("/api/v1/metrics/overview", headers=headers(keys["analyst"])).json()
    page = _at_risk(client, keys["analyst"], definition="default", risk_band="high")
    assert page["count"] == overview["at_risk"]["high"] == 2


def _next_orders(con: Any) -> None:
    """Next-order figures for c1 (P(alive) 0.35: unlikely) and c2 (0.6: a date)."""
    for column, kind in (
        ("probability_order_30d", "DOUBLE"),
        ("probability_order_60d", "DOUBLE"),
        ("probability_order_90d", "DOUBLE"),
        ("next_order_at", "TIMESTAMP"),
    ):
        con.raw_sql(f"ALTER TABLE clv_scores ADD COLUMN IF NOT EXISTS {column} {kind}")
    con.raw_sql(
        "UPDATE clv_scores SET probability_order_30d = 0.05, probability_order_60d = 0.09, "
        "probability_order_90d = 0.12, next_order_at = TIMESTAMP '2024-09-20' "
        "WHERE customer_id = 'c1'"
    )
    con.raw_sql(
        "UPDATE clv_scores SET probability_order_30d = 0.21, probability_order_60d = 0.34, "
        "probability_order_90d = 0.43, next_order_at = TIMESTAMP '2024-08-14' "
        "WHERE customer_id = 'c2'"
    )


def test_the_next_expected_order_in_the_api(client, keys, loaded_warehouse):
    _next_orders(loaded_warehouse)
    c2 = client.get("/api/v1/customers/c2", headers=headers(keys["analyst"])).json()
    assert c2["next_order"] == {
        "expected_at": c2["next_order"]["expected_at"],
        "unlikely": False,
        "probability_30d": 0.21,
        "probability_60d": 0.34,
        "probability_90d": 0.43,
    }
    assert c2["next_order"]["expected_at"].startswith("2024-08-14")
    assert c2["probability_alive_note"] is None  # a repeat buyer: P(alive) means something
    c1 = client.get("/api/v1/customers/c1/scores", headers=headers(keys["analyst"])).json()
    assert c1["next_order"]["unlikely"] is True and c1["next_order"]["expected_at"] is None
    assert c1["next_order"]["probability_90d"] == 0.12
    # c3 was scored before the next-order columns existed: no figures, and a one-time buyer
    # under BG/NBD (P(alive) 100 %) gets the note that explains it.
    c3 = client.get("/api/v1/customers/c3", headers=headers(keys["analyst"])).json()
    assert c3["next_order"] is None
    assert "one-time buyer" in c3["probability_alive_note"]
    ja = client.get("/api/v1/customers/c3", headers=headers(keys["analyst"]), params={"lang": "ja"})
    assert "BG/NBD" in ja.json()["probability_alive_note"]
    assert ja.json()["probability_alive_note"] != c3["probability_alive_note"]
    c5 = client.get("/api/v1/customers/c5", headers=headers(keys["analyst"])).json()
    assert c5["clv"] is None and c5["next_order"] is None and c5["probability_alive_note"] is None


def test_the_customer_page_shows_the_next_expected_order(client, users, loaded_warehouse):
    _next_orders(loaded_warehouse)
    login(client, users["analyst"])
    c2 = client.get("/customers/c2").text
    assert "Next expected order" in c2 and "21%" in c2 and "43%" in c2
    assert "Aug 14, 2024" in c2 or "2024-08-14" in c2
    c1 = client.get("/customers/c1").text
    assert "Unlikely: more likely gone than active" in c1
    c3 = client.get("/customers/c3").text
    assert "Next expected order" not in c3 and "one-time buyer always shows 100" in c3
    c5 = client.get("/customers/c5")  # no CLV row at all
    assert c5.status_code == 200 and "Next expected order" not in c5.text
