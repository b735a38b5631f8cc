"""Verified API keys are remembered for a few seconds (``retain.app.auth.keycache``): a key
revoked through the service stops at once, one revoked by another process within the TTL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from _app_helpers import headers
from sqlalchemy import update

from retain.app.auth import keycache
from retain.app.auth.keycache import KeyCache
from retain.app.auth.models import ApiKey
from retain.app.db.base import utcnow

ME = "/api/v1/me"
"""A route every role with a key reads, and fast (the TTL in these tests is half a second)."""


def _revoke_elsewhere(app: Any, name: str) -> None:
    """Revoke a key straight in the app database, as ``retain keys revoke`` from another
    process does (this service's cache is not told)."""
    with app.state.sessionmaker() as session:
        session.execute(update(ApiKey).where(ApiKey.name == name).values(revoked_at=utcnow()))
        session.commit()


def test_a_key_revoked_elsewhere_stops_working_within_the_ttl(
    app: Any, client: Any, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keycache, "KEY_TTL_S", 0.5)
    agent = headers(keys["agent"])
    assert client.get(ME, headers=agent).status_code == 200
    _revoke_elsewhere(app, "agent-key")
    assert client.get(ME, headers=agent).status_code == 200  # still cached: within the TTL
    time.sleep(0.6)
    refused = client.get(ME, headers=agent)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "auth.bad_api_key"


def test_a_key_revoked_through_the_service_stops_at_once(client: Any, keys: dict[str, str]) -> None:
    admin = headers(keys["admin"])
    made = client.post("/api/v1/keys", headers=admin, json={"name": "k", "role": "agent"}).json()
    mine = headers(made["key"])
    assert client.get(ME, headers=mine).status_code == 200
    assert client.get(ME, headers=mine).status_code == 200  # now from the cache
    assert client.delete(f"/api/v1/keys/{made['id']}", headers=admin).status_code in {200, 204}
    assert client.get(ME, headers=mine).status_code == 401
    assert client.get(ME, headers=admin).status_code == 200  # others are looked up again


def test_a_wrong_key_is_never_cached_and_the_raw_key_is_not_held() -> None:
    cache: KeyCache[str] = KeyCache(ttl=60)
    cache.put("rk_abc_secret", "principal")
    assert cache.get("rk_abc_secret") == "principal"
    assert cache.get("rk_abc_other") is None
    assert all("secret" not in repr(k) for k in cache._entries)
    keycache.forget_all()
    assert cache.get("rk_abc_secret") is None


def test_an_entry_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: KeyCache[str] = KeyCache(ttl=5)
    now = [100.0]
    monkeypatch.setattr(keycache.time, "monotonic", lambda: now[0])
    cache.put("rk_a_b", "p")
    now[0] += 4.9
    assert cache.get("rk_a_b") == "p"
    now[0] += 0.2
    assert cache.get("rk_a_b") is None


def test_a_lookup_from_before_a_revoke_is_not_cached_after_it() -> None:
    """The lookup read the key live, then a revoke forgot every key: its put keeps nothing."""
    cache: KeyCache[str] = KeyCache(ttl=60)
    before = cache.generation
    keycache.forget_all()  # the revoke committed while the lookup ran
    cache.put("rk_a_b", "p", before)
    assert cache.get("rk_a_b") is None
    cache.put("rk_a_b", "p", cache.generation)
    assert cache.get("rk_a_b") == "p"


def test_a_request_whose_lookup_raced_a_revoke_leaves_nothing_cached(
    client: Any, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from retain.app.deps import principal

    looked_up: list[int] = []
    real = principal._identify

    def racing(request: Any, session: Any) -> Any:
        found = real(request, session)
        looked_up.append(1)
        keycache.forget_all()  # a revoke commits after this lookup read the key
        return found

    monkeypatch.setattr(principal, "_identify", racing)
    agent = headers(keys["agent"])
    assert client.get(ME, headers=agent).status_code == 200
    assert client.get(ME, headers=agent).status_code == 200
    assert len(looked_up) == 2  # the raced lookup was not cached: looked up again
