"""Schemathesis fuzzing of the OpenAPI schema: no input makes the service fail with a 500, and
every 4xx keeps the canonical error shape. Bounded (a few examples per operation) to stay fast."""

from __future__ import annotations

import pytest
import schemathesis
from _app_helpers import headers
from hypothesis import HealthCheck, given, settings

EXAMPLES = 6


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


def test_no_server_errors(app, keys):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    auth = headers(keys["admin"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.headers = {**(case.headers or {}), **auth}
            response = case.call()
            assert response.status_code < 500, (operation.label, response.text)  # noqa: B023
            ctype = response.headers.get("content-type") or [""]
            ctype = ctype[0] if isinstance(ctype, list) else ctype
            if response.status_code >= 400 and ctype.startswith("application/json"):
                body = response.json()
                assert set(body) == {"error", "status"}, (operation.label, body)  # noqa: B023
                assert body["status"] == response.status_code

        check()
