"""Login throttling: repeated failed logins per e-mail and per client address get 429 with
Retry-After; a successful login clears its e-mail's count; the counts live in the app database,
so every worker of the service agrees (SQLite and PostgreSQL app databases)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from _app_helpers import login
from fastapi.testclient import TestClient

from retain.app.auth import throttle
from retain.app.auth.models import LoginFailures
from retain.app.db.base import utcnow
from retain.app.main import create_app
from retain.config import Settings

WINDOW = 60


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Small limits: 3 failures per e-mail, 5 per address, in one-minute windows."""
    return Settings(
        database_url=database_url,
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        models_dir=tmp_path / "models",
        service={
            "login_window_seconds": WINDOW,
            "login_max_failures_per_email": 3,
            "login_max_failures_per_address": 5,
        },
    )


def _retry_after(response: Any) -> int:
    assert response.status_code == 429, response.text
    seconds = int(response.headers["retry-after"])
    assert 0 < seconds <= WINDOW
    return seconds


def test_repeated_failures_for_one_email_get_429_even_with_the_right_password(client, users):
    for _ in range(3):
        assert login(client, users["analyst"], password="guess").status_code == 401
    throttled = login(client, users["analyst"])
    _retry_after(throttled)
    assert "Too many failed logins" in throttled.text
    assert "retain_session" not in throttled.headers.get("set-cookie", "")
    # Another user from the same address (2 failures short of its limit) still logs in.
    assert login(client, users["agent"]).status_code == 303


def test_the_throttled_page_speaks_the_users_language(client, users):
    for _ in range(3):
        login(client, users["analyst"], password="guess", lang="ja")
    throttled = login(client, users["analyst"], lang="ja")
    _retry_after(throttled)
    assert "ログインの失敗が多すぎます" in throttled.text


def test_a_successful_login_resets_the_email_count(client, users):
    for _ in range(2):
        for _ in range(2):
            assert login(client, users["analyst"], password="guess").status_code == 401
        assert login(client, users["analyst"]).status_code == 303


def test_failures_from_one_address_across_emails_get_429(client, users):
    for n in range(5):
        assert login(client, f"nobody{n}@example.org", password="guess").status_code == 401
    _retry_after(login(client, users["admin"]))


def test_workers_sharing_the_app_database_count_together(app, settings, loaded_warehouse, users):
    """A second app (another worker) on the same database sees the first one's failures."""
    other = create_app(settings, warehouse=loaded_warehouse, migrate=False)
    with TestClient(app) as first, TestClient(other) as second:
        assert login(first, users["analyst"], password="guess").status_code == 401
        assert login(second, users["analyst"], password="guess").status_code == 401
        assert login(first, users["analyst"], password="guess").status_code == 401
        _retry_after(login(second, users["analyst"]))


def test_a_new_window_lets_the_user_in_again(app, client, users):
    for _ in range(3):
        login(client, users["analyst"], password="guess")
    _retry_after(login(client, users["analyst"]))
    with app.state.sessionmaker() as session:
        for row in session.query(LoginFailures):
            row.window_start = utcnow() - dt.timedelta(seconds=WINDOW + 1)
        session.commit()
    assert login(client, users["analyst"]).status_code == 303


def test_counts_restart_when_the_window_has_ended(app):
    limits = throttle.ThrottleLimits(window_seconds=WINDOW, per_email=2, per_address=10)
    start = dt.datetime(2026, 1, 1, 12, 0, 0)
    with app.state.sessionmaker() as session:
        keys = throttle.keys_for(session, email="A@Example.org", address="10.0.0.1", limits=limits)
        throttle.note_failure(session, keys, limits, now=start)
        throttle.note_failure(session, keys, limits, now=start + dt.timedelta(seconds=10))
        with pytest.raises(throttle.LoginThrottledError) as caught:
            throttle.check(session, keys, limits, now=start + dt.timedelta(seconds=20))
        assert caught.value.retry_after == WINDOW - 20
        later = start + dt.timedelta(seconds=WINDOW)
        throttle.check(session, keys, limits, now=later)
        throttle.note_failure(session, keys, limits, now=later)
        counts = sorted(r.failures for r in session.query(LoginFailures).populate_existing())
        assert counts == [1, 1]
        session.commit()


def test_throttle_keys_never_store_what_was_typed(app, client):
    typed = "my secret passphrase"
    assert login(client, typed, password="x").status_code == 401
    with app.state.sessionmaker() as session:
        stored = [(r.key_hash, r.failures) for r in session.query(LoginFailures)]
    assert len(stored) == 2 and not any(typed in h or "testclient" in h for h, _ in stored)
