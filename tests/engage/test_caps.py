"""Frequency caps by priority, quiet hours in the customer's zone, and stable holdouts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retain.engage.caps import allocate, capped, quiet_until
from retain.engage.holdout import in_global_control, in_holdout, variant_of
from retain.engage.playbooks import Caps, QuietHours


def _cands(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "playbook": p,
                "customer_id": c,
                "category": cat,
                "priority": prio,
                "expected_value": 0.0,
            }
            for p, c, cat, prio in rows
        ]
    )


CAPS = Caps(global_limit=3, categories={"marketing": 2}, window_days=7)


def test_higher_priority_wins_the_last_slot_whatever_ran_first() -> None:
    history = pd.DataFrame({"customer_id": ["c1"], "category": ["marketing"]})
    for rows in (
        [("low", "c1", "marketing", 1), ("high", "c1", "marketing", 9)],
        [("high", "c1", "marketing", 9), ("low", "c1", "marketing", 1)],
    ):
        frame = _cands(rows)
        refused = capped(frame, history, CAPS)
        assert dict(zip(frame["playbook"], refused, strict=True)) == {"high": False, "low": True}


def test_expected_value_breaks_a_priority_tie() -> None:
    frame = _cands(
        [("a", "c1", "marketing", 5), ("b", "c1", "marketing", 5), ("c", "c1", "marketing", 5)]
    )
    frame["expected_value"] = [1.0, 7.0, 3.0]
    refused = capped(frame, pd.DataFrame({"customer_id": [], "category": []}), CAPS)
    assert list(refused) == [True, False, False]


def test_category_refusal_keeps_the_global_slot_for_another_category() -> None:
    history = pd.DataFrame({"customer_id": ["c1", "c1"], "category": ["marketing", "marketing"]})
    frame = _cands(
        [
            ("promo", "c1", "marketing", 9),
            ("receipt", "c1", "service", 1),
            ("other", "c2", "marketing", 1),
        ]
    )
    refused = capped(frame, history, CAPS)
    # c1 has used both marketing slots, so promo is refused; service still has 1 of 3 global
    assert list(refused) == [True, False, False]
    full = pd.DataFrame({"customer_id": ["c1"] * 3, "category": ["service"] * 3})
    assert capped(frame, full, CAPS).tolist() == [True, True, False]


def test_no_global_limit_and_unlisted_category_mean_no_cap() -> None:
    frame = _cands([(f"p{i}", "c1", "service", i) for i in range(6)])
    caps = Caps(global_limit=None, categories={"marketing": 2})
    assert not capped(frame, pd.DataFrame({"customer_id": [], "category": []}), caps).any()


def test_quiet_hours_delay_to_the_local_morning() -> None:
    zones = pd.Series(["Asia/Tokyo", "Europe/London", "Pacific/Auckland", None, "Mars/Base"])
    now = dt.datetime(2024, 6, 30, 12, 0)  # 21:00 Tokyo, 13:00 London, 00:00 Auckland
    got = quiet_until(zones, now, QuietHours(start=21, end=8))
    assert got[0] == pd.Timestamp("2024-06-30 23:00")  # 08:00 JST on 1 July
    assert pd.isna(got[1]) and pd.isna(got[3]) and pd.isna(got[4])  # unknown zone: UTC 12:00
    assert got[2] == pd.Timestamp("2024-06-30 20:00")  # 08:00 NZST the same local day
    assert quiet_until(zones, now, None).isna().all()


def test_holdout_is_stable_sized_and_independent_per_playbook() -> None:
    ids = pd.Series([f"c{i}" for i in range(20_000)])
    a = in_holdout("winback-60", ids, 0.2)
    assert a.mean() == pytest.approx(0.2, abs=0.01)
    # the same customers, shuffled and halved: each keeps its arm
    shuffled = ids.sample(frac=0.5, random_state=1)
    assert (in_holdout("winback-60", shuffled, 0.2) == a[shuffled.index]).all()
    b = in_holdout("renewal-30", ids, 0.2)
    assert (a & b).mean() == pytest.approx(0.04, abs=0.006)  # independent draws: 0.2 x 0.2
    assert not in_holdout("x", ids, 0.0).any()
    control = in_global_control(ids, 0.05)
    assert control.mean() == pytest.approx(0.05, abs=0.005)
    variants = variant_of("winback-60", ids, ["a", "b", "c"])
    shares = pd.Series(variants).value_counts(normalize=True)
    assert np.allclose(shares.sort_index().to_numpy(), 1 / 3, atol=0.015)
    # variants are independent of the holdout draw
    assert pd.Series(variants[a]).value_counts(normalize=True).min() > 0.3


def test_a_waiting_lower_priority_message_gives_its_slot_up() -> None:
    """Across runs: the low-priority message queued earlier (still waiting) loses the slot."""
    history = pd.DataFrame(
        [
            {"customer_id": "c1", "category": "marketing", "preemptible": False},  # sent
            {
                "customer_id": "c1",
                "category": "marketing",
                "preemptible": True,
                "key": "low:c1:x",
                "playbook": "low",
                "priority": 1,
                "expected_value": 0.0,
            },
            {
                "customer_id": "c2",
                "category": "marketing",
                "preemptible": True,
                "key": "top:c2:x",
                "playbook": "top",
                "priority": 99,
                "expected_value": 0.0,
            },
        ]
    )
    frame = _cands([("high", "c1", "marketing", 9), ("high", "c2", "marketing", 9)])
    refused, withdrawn = allocate(frame, history, CAPS)
    assert list(refused) == [False, False] and withdrawn == ["low:c1:x"]
    # a tie keeps the message queued first; a sent message never moves
    tie = _cands([("low2", "c1", "marketing", 1)])
    refused, withdrawn = allocate(tie, history, CAPS)
    assert list(refused) == [True] and withdrawn == []
