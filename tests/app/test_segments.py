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


def test_an_inverted_clv_range_is_refused_when_saved(client, keys):
    r = client.post(
        "/api/v1/segments",
        headers=headers(keys["analyst"]),
        json={"name": "upside down", "filters": {"clv_min": 300, "clv_max": 100}},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "parameter.clv_range"


def test_segments_stored_before_read_and_apply(client, keys, app):
    """Segments keep their stored JSON; ones saved before AtRiskQuery still list, and apply."""
    from retain.app.segments.models import SavedSegment

    with app.state.sessionmaker() as session:
        session.add(
            SavedSegment(name="old JP", filters='{"country": "JP", "risk_bands": ["high"]}')
        )
        session.add(SavedSegment(name="old bad", filters='{"clv_min": 300, "clv_max": 100}'))
        session.commit()
    h = headers(keys["analyst"])
    listed = {
        s["name"]: s["filters"] for s in client.get("/api/v1/segments", headers=h).json()["data"]
    }
    assert listed["old JP"]["country"] == "JP" and listed["old bad"]["clv_min"] == 300
    page = client.get("/api/v1/customers/at-risk", headers=h, params={"segment": "old JP"}).json()
    assert [row["customer_id"] for row in page["data"]] == ["c1"]
    bad = client.get("/api/v1/customers/at-risk", headers=h, params={"segment": "old bad"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "parameter.clv_range"


def test_only_the_owner_or_an_admin_changes_a_segment(app, client, keys):
    from retain.app.auth import service as auth

    with app.state.sessionmaker() as session:
        _, other = auth.create_api_key(session, name="other", role="analyst", created_by="t")
        session.commit()
    mine, theirs = headers(keys["analyst"]), headers(other)
    seg = client.post("/api/v1/segments", headers=mine, json={"name": "mine"}).json()
    url = f"/api/v1/segments/{seg['id']}"
    for denied in (
        client.patch(url, headers=theirs, json={"name": "taken"}),
        client.delete(url, headers=theirs),
    ):
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["code"] == "segments.not_owner"
    assert client.get(url, headers=theirs).json()["name"] == "mine"  # reading stays open
    assert client.patch(url, headers=mine, json={"description": "d"}).status_code == 200
    admin = headers(keys["admin"])
    assert client.patch(url, headers=admin, json={"name": "renamed"}).status_code == 200
    assert client.delete(url, headers=admin).status_code == 204


def test_segments_saved_before_owners_belong_to_their_creator(tmp_path):
    """The migration makes the user named in ``created_by`` the owner; others have none."""
    import sqlalchemy as sa

    from retain.app.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as con:
        con.execute(
            sa.text(
                "INSERT INTO users (id, email, name, role, password_hash, active, created_at) "
                "VALUES (4, 'ana@example.org', '', 'analyst', 'x', 1, '2026-01-01')"
            )
        )
        for name, by in (("hers", "ana@example.org"), ("a key's", "etl-key")):
            con.execute(
                sa.text(
                    "INSERT INTO saved_segments (name, description, filters, created_by, "
                    "created_at, updated_at) VALUES (:n, '', '{}', :b, '2026-01-01', '2026-01-01')"
                ),
                {"n": name, "b": by},
            )
    upgrade(url)
    with engine.connect() as con:
        owners = dict(
            con.execute(
                sa.text("SELECT name, owner_kind || ':' || owner_id FROM saved_segments")
            ).all()
        )
    engine.dispose()
    assert owners == {"hers": "user:4", "a key's": None}
