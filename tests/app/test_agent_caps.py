"""Agents cannot page the whole customer base through the JSON at-risk list: their role has a
smaller page cap and a rate of pages per minute (429 with Retry-After past it), counted per
caller in the app database; admins are not limited (SQLite and PostgreSQL app databases)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from _app_helpers import assign_cases, headers
from fastapi.testclient import TestClient

from retain.app.auth import caps
from retain.app.auth.models import LoginFailures
from retain.config import Settings

URL = "/api/v1/customers/at-risk"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Agents: pages of at most 2 rows, 3 pages a minute; analysts 5 a minute; admins free."""
    return Settings(
        database_url=database_url,
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        models_dir=tmp_path / "models",
        service={
            "max_page_size_by_role": {"agent": 2},
            "list_pages_per_minute_by_role": {"agent": 3, "analyst": 5},
        },
    )


@pytest.fixture(autouse=True)
def _agent_queue(app: Any) -> None:
    """The agent key works every hand-made customer (an agent lists its queue's only)."""
    assign_cases(app, "agent-key", "c1", "c2", "c3", "c4", "c5", "c6")


def _get(client: TestClient, key: str, **params: Any) -> Any:
    return client.get(URL, headers=headers(key), params=params)


def test_an_agent_page_above_the_role_cap_is_refused(client, keys):
    r = _get(client, keys["agent"], limit=3)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "parameter.limit"
    assert "2" in r.json()["error"]["message"]
    assert _get(client, keys["agent"], limit=2).status_code == 200
    assert _get(client, keys["analyst"], limit=3).status_code == 200  # the global cap


def test_an_agent_without_a_limit_gets_a_page_of_its_cap(client, keys):
    page = _get(client, keys["agent"], risk_band=["high", "medium", "low"])
    assert page.status_code == 200, page.text
    assert len(page.json()["data"]) == 2 and page.json()["next_cursor"]
    assert (
        len(_get(client, keys["analyst"], risk_band=["high", "medium", "low"]).json()["data"]) == 5
    )


def test_agents_get_429_with_retry_after_past_their_pages_a_minute(client, keys):
    for _ in range(3):
        assert _get(client, keys["agent"], limit=2).status_code == 200
    refused = _get(client, keys["agent"], limit=2)
    assert refused.status_code == 429, refused.text
    assert 0 < int(refused.headers["retry-after"]) <= caps.LIST_WINDOW_SECONDS
    body = refused.json()
    assert body["status"] == 429 and body["error"]["code"] == "customers.list_throttled"
    assert "3" in body["error"]["message"] and body["error"]["hint"]
    ja = client.get(URL, headers=headers(keys["agent"]), params={"limit": 2, "lang": "ja"})
    assert ja.status_code == 429 and "ページ" in ja.json()["error"]["message"]
    # Counted per caller: another role's key and the admin still read.
    assert _get(client, keys["analyst"]).status_code == 200
    for _ in range(10):
        assert _get(client, keys["admin"], limit=2).status_code == 200


def test_the_window_ends_and_the_agent_reads_again(client, keys, app):
    for _ in range(4):
        _get(client, keys["agent"], limit=2)
    assert _get(client, keys["agent"], limit=2).status_code == 429
    with app.state.sessionmaker() as session:
        for row in session.query(LoginFailures):
            row.window_start -= dt.timedelta(seconds=caps.LIST_WINDOW_SECONDS + 1)
        session.commit()
    assert _get(client, keys["agent"], limit=2).status_code == 200


def test_refused_parameters_do_not_count_and_the_counter_stores_no_identity(client, keys, app):
    for _ in range(5):
        assert _get(client, keys["agent"], limit=99).status_code == 422
    assert _get(client, keys["agent"], limit=2).status_code == 200
    with app.state.sessionmaker() as session:
        rows = list(session.query(LoginFailures))
    assert [r.failures for r in rows] == [1]
    assert "agent" not in rows[0].key_hash and len(rows[0].key_hash) == 64


def test_the_page_cap_never_exceeds_the_global_cap() -> None:
    service = Settings().service.model_copy(
        update={"max_page_size": 10, "max_page_size_by_role": {"agent": 50}}
    )
    assert caps.max_page_size(service, "agent") == 10
    assert caps.max_page_size(service, "admin") == 10
    assert caps.max_page_size(Settings().service, "agent") == 50
    assert caps.max_page_size(Settings().service, "analyst") == 500
