"""Saved segments: CRUD, audit, and their use as the at-risk list's segment filter."""

from __future__ import annotations

from _app_helpers import headers


def test_segment_crud_and_filter(client, keys):
    h = headers(keys["analyst"])
    r = client.post(
        "/api/v1/segments",
        headers=h,
        json={"name": "JP high value", "filters": {"country": "JP", "clv_min": 200}},
    )
    assert r.status_code == 201, r.text
    seg = r.json()
    assert seg["filters"]["country"] == "JP" and seg["created_by"] == "analyst-key"
    page = client.get(
        "/api/v1/customers/at-risk", headers=h, params={"segment": "JP high value"}
    ).json()
    assert [row["customer_id"] for row in page["data"]] == ["c1", "c3"]
    by_id = client.get(
        "/api/v1/customers/at-risk",
        headers=h,
        params={"segment": str(seg["id"]), "risk_band": "medium"},
    ).json()
    assert [row["customer_id"] for row in by_id["data"]] == ["c3"]
    dup = client.post("/api/v1/segments", headers=h, json={"name": "JP high value"})
    assert dup.status_code == 409
    upd = client.patch(f"/api/v1/segments/{seg['id']}", headers=h, json={"name": "JP VIP"})
    assert upd.json()["name"] == "JP VIP"
    assert client.get("/api/v1/segments", headers=h).json()["count"] == 1
    assert client.delete(f"/api/v1/segments/{seg['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/segments/{seg['id']}", headers=h).status_code == 404
    missing = client.get("/api/v1/customers/at-risk", headers=h, params={"segment": "JP VIP"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "segments.not_found"
    audit = client.get("/api/v1/audit", headers=headers(keys["admin"])).json()["data"]
    assert [e["action"] for e in audit][:3] == [
        "segment.delete",
        "segment.update",
        "segment.create",
    ]


def test_unknown_filter_keys_are_refused(client, keys):
    r = client.post(
        "/api/v1/segments",
        headers=headers(keys["analyst"]),
        json={"name": "x", "filters": {"colour": "red"}},
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "filters.colour"
