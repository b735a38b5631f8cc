"""Verified API keys remembered for a few seconds, so a busy caller is not looked up per request.

Looking a key up costs an app-database query (about half a millisecond of Python per request);
an agent paging through the at-risk list sends hundreds a second. A key that verified is kept
for :data:`KEY_TTL_S` under an HMAC of the raw key with a secret made at start (the raw key
itself is never held in the cache); each app holds its own cache. Revoking a key in this
process forgets every cached key at once; a key revoked by another process (``retain keys
revoke`` beside a running service) stops working within :data:`KEY_TTL_S`.

A lookup that read a key before a revoke committed must not put it back after the revoke
forgot every key: the caller reads :attr:`KeyCache.generation` before the lookup and passes it
to :meth:`KeyCache.put`, which drops the entry when the cache was cleared in between.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import weakref
from typing import Any, Generic, TypeVar

__all__ = ["KEY_TTL_S", "KeyCache", "forget_all"]

KEY_TTL_S = 5.0
"""Seconds a verified key serves without a new lookup (so also the longest a revoked key from
another process still works)."""
MAX_KEYS = 4096
"""Keys kept at most; past it the cache starts over (callers are looked up again)."""

V = TypeVar("V")


class KeyCache(Generic[V]):
    """What a raw key verified as (``V``), for ``ttl`` seconds, keyed by an HMAC of the key."""

    def __init__(self, ttl: float | None = None) -> None:
        self.ttl = KEY_TTL_S if ttl is None else ttl
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._entries: dict[bytes, tuple[float, V]] = {}
        self._generation = 0
        _CACHES.add(self)

    @property
    def generation(self) -> int:
        """How many times the cache was cleared: read it before a lookup, give it to put."""
        return self._generation

    def _tag(self, raw: str) -> bytes:
        return hmac.new(self._secret, raw.encode("utf-8"), hashlib.sha256).digest()

    def get(self, raw: str) -> V | None:
        """What ``raw`` verified as, while that holds; else None (look it up again)."""
        found = self._entries.get(self._tag(raw))
        if found is None or time.monotonic() >= found[0]:
            return None
        return found[1]

    def put(self, raw: str, value: V, generation: int | None = None) -> None:
        """Remember that ``raw`` verified as ``value`` for the next :attr:`ttl` seconds.

        ``generation``: :attr:`generation` as read before the lookup; when the cache was cleared
        since (a key was revoked meanwhile), the lookup may be stale and nothing is kept.
        """
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            if len(self._entries) >= MAX_KEYS:
                self._entries.clear()
            self._entries[self._tag(raw)] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        """Forget every key (one was revoked: the next requests are looked up again)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1


_CACHES: weakref.WeakSet[KeyCache[Any]] = weakref.WeakSet()


def forget_all() -> None:
    """Empty every key cache of this process (a key was revoked here)."""
    for cache in list(_CACHES):
        cache.clear()
