"""Every error path answers with the one canonical shape, in the request's language."""

from __future__ import annotations

from typing import Any

import pytest
from _app_helpers import headers
from fastapi.testclient import TestClient

from retain.app.main import create_app


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


def assert_shape(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    error = body["error"]
    assert {"code", "message", "details"} <= set(error)
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    if code is not None:
        assert error["code"] == code
    return error


def test_error_paths(client, keys, settings):
    admin, agent = headers(keys["admin"]), headers(keys["agent"])
    assert_shape(client.get("/api/v1/customers/c1"), 401, "auth.required")
    assert_shape(client.get("/api/v1/me", headers=headers("rk_dead_beef")), 401, "auth.bad_api_key")
    assert_shape(client.get("/api/v1/users", headers=agent), 403, "permission_denied")
    assert_shape(client.get("/api/v1/nowhere", headers=admin), 404, "not_found")
    assert_shape(client.get("/api/v1/customers/nobody", headers=admin), 404, "customers.not_found")
    assert_shape(client.put("/api/v1/me", headers=admin), 405, "method_not_allowed")
    client.post("/api/v1/segments", headers=admin, json={"name": "s"})
    assert_shape(
        client.post("/api/v1/segments", headers=admin, json={"name": "s"}), 409, "segments.exists"
    )
    big = b'{"records": [' + b'{"event_id": "x"},' * 700_000 + b"{}]}"
    assert len(big) > settings.service.max_request_bytes
    assert_shape(
        client.post(
            "/api/v1/ingest/events",
            headers={**headers(keys["ingest"]), "Content-Type": "application/json"},
            content=big,
        ),
        413,
        "request.too_large",
    )
    query = assert_shape(
        client.get("/api/v1/customers/at-risk", headers=admin, params={"sort": "shoe_size"}),
        422,
        "request.invalid",
    )
    assert query["details"][0]["field"] == "sort" and query["details"][0]["location"] == "query"
    body = assert_shape(client.post("/api/v1/keys", headers=admin, json={"role": "wizard"}), 422)
    assert {d["field"] for d in body["details"]} == {"name", "role"}
    assert_shape(
        client.post(
            "/api/v1/keys",
            headers=admin,
            content=b"{not json",
        ),
        422,
        "request.invalid",
    )
    assert_shape(
        client.get(
            "/api/v1/customers/at-risk", headers=admin, params={"clv_min": 10, "clv_max": 1}
        ),
        422,
        "parameter.clv_range",
    )


def test_messages_follow_the_request_language(client, keys):
    ja = assert_shape(
        client.get("/api/v1/customers/nobody?lang=ja", headers=headers(keys["admin"])), 404
    )
    ko = assert_shape(
        client.get(
            "/api/v1/customers/nobody", headers=headers(keys["admin"], **{"Accept-Language": "ko"})
        ),
        404,
    )
    assert "顧客" in ja["message"] and "고객" in ko["message"]
    assert ja["hint"] and ko["hint"]


def test_unexpected_failure_is_a_500_in_the_same_shape(settings, loaded_warehouse):
    app = create_app(settings, warehouse=loaded_warehouse, migrate=True)
    loaded_warehouse.disconnect()  # the warehouse goes away under the running service
    from retain.app.auth import service as auth

    with app.state.sessionmaker() as session:
        _, raw = auth.create_api_key(session, name="a", role="admin", created_by="t")
        session.commit()
    with TestClient(app, raise_server_exceptions=False) as c:
        err = assert_shape(c.get("/api/v1/customers/c1", headers=headers(raw)), 500, "internal")
        assert "Traceback" not in err["message"]


def test_too_many_requests_is_a_429_with_retry_after(settings, loaded_warehouse):
    from retain.errors import TooManyRequestsError

    app = create_app(settings, warehouse=loaded_warehouse, migrate=True)

    def busy() -> None:
        raise TooManyRequestsError("slow down", retry_after=42, hint="wait a little")

    app.add_api_route("/test-only/busy", busy)
    with TestClient(app) as c:
        response = c.get("/test-only/busy")
        err = assert_shape(response, 429, "too_many_requests")
        assert response.headers["Retry-After"] == "42" and err["hint"] == "wait a little"
