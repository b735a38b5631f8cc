"""Saved segments built as rules: API create, check, members, CSV export, size at month ends."""

from __future__ import annotations

from _app_helpers import headers

JAPAN = {"field": "country", "op": "=", "value": "JP"}


def _create(client, h, name, **body):
    r = client.post("/api/v1/segments", headers=h, json={"name": name, **body})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_rule_segment_lists_members_sizes_and_narrows_the_at_risk_list(client, keys):
    h = headers(keys["analyst"])
    seg = _create(client, h, "japan", rule=JAPAN)
    assert seg["kind"] == "rule" and seg["rule"] == JAPAN and seg["filters"]["country"] is None
    url = f"/api/v1/segments/{seg['id']}"
    members = client.get(f"{url}/members", headers=h).json()
    # As of the latest run (2024-06-30): every Japanese customer, scored high, medium or low.
    assert members["data"] == ["c1", "c3", "c5"] and members["total"] == 3
    assert members["as_of"].startswith("2024-06-30")
    page = client.get(f"{url}/members", headers=h, params={"offset": 1, "limit": 1}).json()
    assert page["data"] == ["c3"] and page["total"] == 3
    early = client.get(f"{url}/members", headers=h, params={"as_of": "2024-03-01"}).json()
    assert early["data"] == ["c1", "c3"]  # c5 was acquired on 2024-03-15
    # The at-risk list keeps its own bands (high and medium by default) within the segment.
    listed = client.get("/api/v1/customers/at-risk", headers=h, params={"segment": "japan"})
    assert [row["customer_id"] for row in listed.json()["data"]] == ["c1", "c3"]
    size = client.get(f"{url}/size", headers=h, params={"months": 3, "end": "2024-04-01"})
    assert size.status_code == 200, size.text
    assert [(row["as_of"][:10], row["customers"]) for row in size.json()["data"]] == [
        ("2024-02-01", 1),
        ("2024-03-01", 2),
        ("2024-04-01", 3),
    ]


def test_an_invalid_rule_is_refused_naming_its_path(client, keys):
    r = client.post(
        "/api/v1/segments",
        headers=headers(keys["analyst"]),
        json={"name": "bad", "rule": {"all": [JAPAN, {"field": "tenur", "op": ">", "value": 9}]}},
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "segments.rule"
    assert error["message"].startswith(
        "rule.all[1].field: unknown field 'tenur'; did you mean 'tenure_days'?"
    )


def test_rules_name_other_segments_which_then_stay(client, keys):
    h = headers(keys["analyst"])
    japan = _create(client, h, "japan", rule=JAPAN)
    both = _create(
        client,
        h,
        "japan high",
        rule={"all": [{"segment": "japan"}, {"field": "risk_band", "op": "=", "value": "high"}]},
    )
    members = client.get(f"/api/v1/segments/{both['id']}/members", headers=h).json()
    assert members["data"] == ["c1"]
    listed = client.get("/api/v1/customers/at-risk", headers=h, params={"segment": "japan high"})
    assert [row["customer_id"] for row in listed.json()["data"]] == ["c1"]
    missing = client.post(
        "/api/v1/segments", headers=h, json={"name": "x", "rule": {"segment": "nope"}}
    )
    assert missing.status_code == 422 and "no saved segment named 'nope'" in missing.text
    loop = client.patch(
        f"/api/v1/segments/{japan['id']}", headers=h, json={"rule": {"segment": "japan high"}}
    )
    assert loop.status_code == 422 and "japan -> japan high -> japan" in loop.text
    for change in (
        client.delete(f"/api/v1/segments/{japan['id']}", headers=h),
        client.patch(f"/api/v1/segments/{japan['id']}", headers=h, json={"name": "jp"}),
    ):
        assert change.status_code == 409 and change.json()["error"]["code"] == "segments.in_use"
    # Dropping the reference frees it.
    dropped = client.patch(f"/api/v1/segments/{both['id']}", headers=h, json={"rule": None})
    assert dropped.json()["rule"] is None
    assert client.delete(f"/api/v1/segments/{japan['id']}", headers=h).status_code == 204


def test_a_filter_segment_lists_the_at_risk_customers_and_has_no_history(client, keys):
    h = headers(keys["analyst"])
    seg = _create(client, h, "jp filters", filters={"country": "JP"})
    assert seg["kind"] == "filters" and seg["rule"] is None
    url = f"/api/v1/segments/{seg['id']}"
    assert client.get(f"{url}/members", headers=h).json()["data"] == ["c1", "c3"]
    size = client.get(f"{url}/size", headers=h)
    assert size.status_code == 422 and size.json()["error"]["code"] == "segments.no_rule"


def test_the_members_csv_is_an_audited_export(client, keys):
    h = headers(keys["analyst"])
    seg = _create(client, h, "japan", rule=JAPAN)
    r = client.get(f"/api/v1/segments/{seg['id']}/members.csv", headers=h)
    assert r.status_code == 200 and r.text == "customer_id\nc1\nc3\nc5\n"
    audit = client.get("/api/v1/audit", headers=headers(keys["admin"])).json()["data"]
    entry = next(e for e in audit if e["action"] == "segment.export")
    assert entry["details"]["rows"] == 3 and entry["details"]["name"] == "japan"
    agent = headers(keys["agent"])
    assert client.get(f"/api/v1/segments/{seg['id']}/members", headers=agent).status_code == 403
    assert client.get(f"/api/v1/segments/{seg['id']}/members.csv", headers=agent).status_code == 403
