"""Every canonical table takes JSON batches: validation, per-record errors, idempotency (#20.7)."""

from __future__ import annotations

import json

import pytest
from _app_helpers import headers

import retain.warehouse as wh


def _rows(con, table: str) -> list[dict]:
    return wh.read_table(con, table).to_pyarrow().to_pylist()


def test_interactions_with_json_properties_and_per_record_errors(client, keys, loaded_warehouse):
    records = [
        {
            "interaction_id": "sv-1",
            "customer_id": "c1",
            "occurred_at": "2024-06-01T10:00:00Z",
            "kind": "survey_answer",
            "properties": {"survey": "nps", "score": 2, "comment": "<script>x</script>"},
        },
        {"interaction_id": "sv-2", "customer_id": "c1", "occurred_at": "not a time", "kind": "x"},
        {"interaction_id": "sv-3", "occurred_at": "2024-06-01", "kind": "exit_survey"},
    ]
    got = client.post(
        "/api/v1/ingest/interactions", headers=headers(keys["ingest"]), json={"records": records}
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["table"], body["received"], body["inserted"], body["rejected"]) == (
        "interactions",
        3,
        1,
        2,
    )
    assert [(e["index"], e["record_id"], e["field"]) for e in body["errors"]] == [
        (1, "sv-2", "occurred_at"),
        (2, "sv-3", "customer_id"),
    ]
    (row,) = [r for r in _rows(loaded_warehouse, "interactions") if r["interaction_id"] == "sv-1"]
    assert json.loads(row["properties"])["score"] == 2


def test_subscriptions_are_keyed_and_updated(client, keys, loaded_warehouse):
    h = headers(keys["ingest"])
    sub = {
        "subscription_id": "s-api-1",
        "customer_id": "c2",
        "plan": "pro",
        "started_at": "2024-01-01",
        "amount": 30,
    }
    first = client.post("/api/v1/ingest/subscriptions", headers=h, json={"records": [sub]})
    assert first.json()["inserted"] == 1, first.text
    ended = {**sub, "ended_at": "2024-07-01", "cancel_reason": "price"}
    again = client.post("/api/v1/ingest/subscriptions", headers=h, json={"records": [ended]})
    assert (again.json()["inserted"], again.json()["updated"]) == (0, 1)
    (row,) = [
        r for r in _rows(loaded_warehouse, "subscriptions") if r["subscription_id"] == "s-api-1"
    ]
    assert row["cancel_reason"] == "price"
    bad = client.post(
        "/api/v1/ingest/subscriptions", headers=h, json={"records": [{**sub, "amount": "lots"}]}
    )
    assert bad.json()["rejected"] == 1 and bad.json()["errors"][0]["field"] == "amount"


def test_a_compound_key_names_the_record_in_errors(client, keys):
    line = {"order_id": "o1", "line_no": 1, "product_id": "p", "quantity": "two", "unit_price": 3}
    got = client.post(
        "/api/v1/ingest/order_lines", headers=headers(keys["ingest"]), json={"records": [line]}
    )
    (err,) = got.json()["errors"]
    assert (err["index"], err["record_id"], err["field"]) == (0, "o1/1", "quantity")


def test_exchange_rates(client, keys):
    rate = {
        "currency": "JPY",
        "reporting_currency": "USD",
        "valid_from": "2024-01-01",
        "rate": 0.0068,
    }
    got = client.post(
        "/api/v1/ingest/exchange_rates", headers=headers(keys["ingest"]), json={"records": [rate]}
    )
    assert got.status_code == 200 and got.json()["inserted"] == 1, got.text


@pytest.mark.parametrize("table", ["interactions", "subscriptions"])
def test_idempotency_key_replays_for_the_new_tables(client, keys, table):
    record = {
        "interactions": {
            "interaction_id": "k-1",
            "customer_id": "c1",
            "occurred_at": "2024-06-01",
            "kind": "complaint",
        },
        "subscriptions": {
            "subscription_id": "k-1",
            "customer_id": "c1",
            "plan": "basic",
            "started_at": "2024-06-01",
            "amount": 10,
        },
    }[table]
    h = {**headers(keys["ingest"]), "Idempotency-Key": f"batch-{table}"}
    first = client.post(f"/api/v1/ingest/{table}", headers=h, json={"records": [record]})
    replay = client.post(f"/api/v1/ingest/{table}", headers=h, json={"records": [record]})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json() and first.json()["inserted"] == 1
    other = client.post(
        f"/api/v1/ingest/{table}", headers=h, json={"records": [{**record, "customer_id": "c2"}]}
    )
    assert other.status_code in (409, 422)  # the same key for another body is refused


def test_the_ingest_role_is_still_required(client, keys):
    got = client.post(
        "/api/v1/ingest/interactions",
        headers=headers(keys["agent"]),
        json={"records": [{"interaction_id": "x"}]},
    )
    assert got.status_code == 403
