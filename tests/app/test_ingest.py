"""JSON batch ingest: valid records kept, per-record errors, idempotency by record id and by the
Idempotency-Key header (SQLite and PostgreSQL app databases)."""

from __future__ import annotations

from _app_helpers import headers

import retain.warehouse as wh


def _events(*ids: str, customer: str = "c2") -> list[dict[str, str]]:
    return [
        {
            "event_id": i,
            "customer_id": customer,
            "occurred_at": "2024-06-01T10:00:00Z",
            "name": "login",
            "channel": "app",
        }
        for i in ids
    ]


def _count(con, table: str, column: str, values: list[str]) -> int:
    t = wh.read_table(con, table)
    return int(t.filter(t[column].isin(values)).count().to_pandas())


def test_valid_records_are_stored_and_bad_ones_listed(client, keys, loaded_warehouse):
    records = [
        *_events("n1", "n2"),
        {"event_id": "n3", "customer_id": "c2", "occurred_at": "yesterday-ish", "name": "login"},
        {"event_id": "n4", "customer_id": "c2", "occurred_at": "2024-06-01T10:00:00"},
    ]
    r = client.post(
        "/api/v1/ingest/events", headers=headers(keys["ingest"]), json={"records": records}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["received"] == 4 and body["inserted"] == 2 and body["rejected"] == 2
    by_index = {e["index"]: e for e in body["errors"]}
    assert set(by_index) == {2, 3}
    assert by_index[2]["record_id"] == "n3" and by_index[2]["field"] == "occurred_at"
    assert by_index[3]["field"] == "name"
    assert _count(loaded_warehouse, "events", "event_id", ["n1", "n2", "n3", "n4"]) == 2


def test_resending_records_stores_them_once(client, keys, loaded_warehouse):
    h = headers(keys["ingest"])
    first = client.post("/api/v1/ingest/events", headers=h, json={"records": _events("d1", "d2")})
    second = client.post(
        "/api/v1/ingest/events", headers=h, json={"records": _events("d1", "d2", "d3")}
    )
    assert first.json()["inserted"] == 2
    assert second.json()["inserted"] == 1 and second.json()["unchanged"] == 2
    assert _count(loaded_warehouse, "events", "event_id", ["d1", "d2", "d3"]) == 3


def test_idempotency_key_replays_the_first_answer(client, keys, loaded_warehouse):
    h = headers(keys["ingest"], **{"Idempotency-Key": "batch-0001"})
    batch = {"records": _events("k1", "k2")}
    first = client.post("/api/v1/ingest/events", headers=h, json=batch)
    replay = client.post("/api/v1/ingest/events", headers=h, json=batch)
    assert replay.status_code == first.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers.get("idempotent-replayed") == "true"
    other = client.post("/api/v1/ingest/events", headers=h, json={"records": _events("k9")})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "ingest.idempotency_reused"
    assert _count(loaded_warehouse, "events", "event_id", ["k1", "k2", "k9"]) == 2
    batches = client.get(
        "/api/v1/audit", headers=headers(keys["admin"]), params={"action": "ingest.events"}
    ).json()
    assert batches["count"] == 1


def test_orders_and_customers_batches(client, keys, loaded_warehouse):
    h = headers(keys["ingest"])
    cust = client.post(
        "/api/v1/ingest/customers",
        headers=h,
        json={
            "records": [
                {
                    "customer_id": "c7",
                    "acquired_at": "2024-06-01",
                    "country": "JP",
                    "email": "c7@example.com",
                }
            ]
        },
    )
    assert cust.status_code == 200 and cust.json()["inserted"] == 1, cust.text
    order = client.post(
        "/api/v1/ingest/orders",
        headers=h,
        json={
            "records": [
                {
                    "order_id": "o77",
                    "customer_id": "c7",
                    "ordered_at": "2024-06-02T09:00:00",
                    "amount": "12.50",
                    "currency": "JPY",
                },
                {
                    "order_id": "o78",
                    "customer_id": "c7",
                    "ordered_at": "2024-06-02T09:00:00",
                    "amount": "-5000000",
                },
            ]
        },
    )
    assert order.json()["inserted"] == 1 and order.json()["errors"][0]["index"] == 1
    assert _count(loaded_warehouse, "orders", "order_id", ["o77", "o78"]) == 1


def test_batch_limits(client, keys):
    h = headers(keys["ingest"])
    empty = client.post("/api/v1/ingest/events", headers=h, json={"records": []})
    assert empty.status_code == 422
    unknown = client.post("/api/v1/ingest/refunds", headers=h, json={"records": _events("x")})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "table"


def test_nested_values_and_empty_records_are_per_record_errors(client, keys, loaded_warehouse):
    records = [
        {
            "event_id": "j1",
            "customer_id": "c2",
            "occurred_at": "2024-06-01T10:00:00",
            "name": "login",
            "properties": {"device": "ios", "tags": ["a"]},
        },
        {"event_id": ["j2"], "customer_id": "c2"},
        {},
    ]
    body = client.post(
        "/api/v1/ingest/events", headers=headers(keys["ingest"]), json={"records": records}
    ).json()
    assert body["inserted"] == 1 and body["rejected"] == 2
    assert [(e["index"], e["rule"]) for e in body["errors"]] == [
        (1, "nested_value"),
        (2, "empty_record"),
    ]
    t = wh.read_table(loaded_warehouse, "events")
    stored = t.filter(t.event_id == "j1").properties.to_pandas().iloc[0]
    assert '"device"' in stored


def test_customer_360_shows_events_ingested_through_the_api(client, keys):
    before = client.get("/api/v1/customers/c2", headers=headers(keys["admin"])).json()
    client.post(
        "/api/v1/ingest/events",
        headers=headers(keys["ingest"]),
        json={"records": _events("fresh-1")},
    )
    after = client.get("/api/v1/customers/c2", headers=headers(keys["admin"])).json()
    assert [e["event_id"] for e in after["events"]] == [
        "fresh-1",
        *[e["event_id"] for e in before["events"]],
    ]


def test_each_batch_is_audited_once_with_its_counts(client, keys):
    first = client.post(
        "/api/v1/ingest/events", headers=headers(keys["ingest"]), json={"records": _events("a9")}
    ).json()
    again = client.post(
        "/api/v1/ingest/events", headers=headers(keys["ingest"]), json={"records": _events("a9")}
    ).json()
    entries = client.get(
        "/api/v1/audit", headers=headers(keys["admin"]), params={"action": "ingest.events"}
    ).json()["data"]
    assert [(e["actor"], e["actor_kind"], e["target_type"]) for e in entries] == [
        ("ingest-key", "api_key", "batch")
    ] * 2
    assert [e["target_id"] for e in entries] == [again["batch_id"], first["batch_id"]]
    assert entries[1]["details"] == {
        "received": 1,
        "inserted": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    assert entries[0]["details"]["unchanged"] == 1


def test_a_changed_event_is_a_conflict_kept_in_rejects(client, keys, loaded_warehouse):
    """Events are immutable facts (issue #16, 14): the stored one stays, the new one is listed."""
    h = headers(keys["ingest"])
    client.post("/api/v1/ingest/events", headers=h, json={"records": _events("x1", "x2")})
    changed = _events("x1", "x2")
    changed[1]["name"] = "logout"
    r = client.post("/api/v1/ingest/events", headers=h, json={"records": changed})
    body = r.json()
    assert r.status_code == 200, r.text
    assert (body["unchanged"], body["updated"], body["rejected"]) == (1, 0, 1)
    [error] = body["errors"]
    assert (error["index"], error["record_id"], error["field"], error["rule"]) == (
        1,
        "x2",
        "name",
        "event_conflict",
    )
    t = wh.read_table(loaded_warehouse, "events")
    assert t.filter(t.event_id == "x2").name.to_pandas().tolist() == ["login"]
    rejects = wh.read_table(loaded_warehouse, "rejects")
    assert int(rejects.filter(rejects.rule == "event_conflict").count().to_pandas()) == 1


def test_repeated_records_in_a_batch_collapse_or_conflict(client, keys, loaded_warehouse):
    h = headers(keys["ingest"])
    same = client.post(
        "/api/v1/ingest/events", headers=h, json={"records": _events("y1", "y1", "y2")}
    ).json()
    assert (same["inserted"], same["collapsed"], same["rejected"]) == (2, 1, 0)
    versions = _events("y3", "y3")
    versions[1]["channel"] = "web"
    both = client.post("/api/v1/ingest/events", headers=h, json={"records": versions}).json()
    assert (both["inserted"], both["rejected"]) == (0, 2)
    assert {e["rule"] for e in both["errors"]} == {"duplicate_key"}
