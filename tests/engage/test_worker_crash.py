"""kill -9 the worker while it delivers, restart, repeat: nothing lost, few duplicates.

The issue's full size (10,000 messages, 20 crashes) runs in ``benchmarks/engage_delivery.py``;
this keeps the same trial small enough for ``make test``.
"""

from __future__ import annotations

from _crash import crash_trial
from _delivery import app_db

__all__ = ["app_db"]


def test_crashes_lose_nothing_and_duplicate_at_most_the_in_flight_message(app_db, tmp_path):
    result = crash_trial(app_db, tmp_path, messages=200, crashes=3, seed=19)
    assert result.kills >= 2, result  # the kills really happened mid-delivery
    assert result.lost == 0, result
    # One message is in flight when a worker dies, by e-mail or by webhook: at most one re-send
    # per kill in all; the receiver's idempotency check absorbs the webhook ones.
    assert result.email_duplicates + result.webhook_redeliveries <= result.kills, result
    assert result.webhook_duplicate_effects == 0, result
