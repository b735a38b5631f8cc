"""Characterisation of churn reasons: the per-row and vectorised paths give the same bytes.

Written before the reasons moved to one rule table, and kept after: the recorded digest pins the
exact JSON the scoring stores for a deterministic grid of inputs, and hypothesis checks that the
per-row path (``reason_codes`` + ``reasons_json``) and the batch path (``reasons_json_column``)
agree on drawn inputs, in English, Japanese and Korean once rendered.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retain.i18n import t
from retain.models.churn import reason_codes, reasons_json
from retain.models.churn.reasons import reasons_json_column

# Every feature a reason rule reads, the other members of their families, and features without
# a rule (profile, a customer attribute, features outside the catalog): spelled out, so that the
# recorded digest depends on the reasons code alone.
NUMERIC = [
    "tenure_days",
    "days_since_first_order",
    "orders_total",
    "orders_30d",
    "orders_90d",
    "orders_prev_90d",
    "orders_change_pct",
    "days_since_last_order",
    "mean_days_between_orders",
    "order_overdue_ratio",
    "revenue_total",
    "revenue_90d",
    "revenue_change_pct",
    "discount_share",
    "discounted_order_share",
    "returns_total",
    "events_90d",
    "events_change_pct",
    "days_since_last_event",
    "payment_failures_90d",
    "days_since_payment_failure",
    "cancel_page_views_90d",
    "days_since_contact",
    "messages_90d",
    "complaints_90d",
    "tickets_open",
    "complaints_unresolved",
    "oldest_open_ticket_days",
    "survey_last_score",
    "survey_score_change",
    "subscription_tenure_days",
    "in_trial",
    "subscriptions_ended",
    "days_to_contract_end",
    "days_to_renewal",
    "email_opt_in",
    "sms_opt_in",
    "p_alive",
    "ratio",
]
TEXTS = {
    "plan": ["basic", "", None, "pro", 'say "hi"'],
    "billing_period": ["month", "year", None],
    "country": ["JP", "한국", None, "US"],
    "language": ["ja", "ko", None],
    "acquisition_channel": ["search", None, "紹介"],
    "attr_会員_ランク": ["ゴールド", None, "back\\slash"],
    "Contract": ["Month-to-month", "Two year", None],
}
NUMBERS = [
    math.nan,
    0.0,
    -0.0,
    1.0,
    2.0,
    -1.0,
    -60.0,
    29.5,
    30.0,
    30.5,
    179.0,
    179.5,
    180.0,
    250.4,
    0.35,
    0.5,
    2.5,
    1e-3,
    1000.0,
]
LABELS = {"attr_会員_ランク": "会員 ランク"}


def _mix(i: int, j: int) -> int:
    """A fixed pseudo-random integer for cell (i, j) (splitmix64), the same on every platform."""
    z = (i * 0x9E3779B97F4A7C15 + j * 0xBF58476D1CE4E5B9 + 1) % 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return z ^ (z >> 31)


def _grid(n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """A deterministic grid of values (no numpy generator, whose streams may change)."""
    columns: dict[str, list[object]] = {}
    for j, name in enumerate(NUMERIC):
        columns[name] = [NUMBERS[_mix(i, j) % len(NUMBERS)] for i in range(n)]
    for j, (name, pool) in enumerate(TEXTS.items(), start=len(NUMERIC)):
        columns[name] = [pool[_mix(i, j) % len(pool)] for i in range(n)]
    columns["seats"] = [_mix(i, -1) % 7 - 3 for i in range(n)]
    columns["flag"] = [_mix(i, -2) % 3 == 0 for i in range(n)]
    frame = pd.DataFrame(columns)
    width = frame.shape[1] + 1
    # One decimal: many exact ties between families, which both paths must order alike.
    contrib = np.array([[(_mix(i, -3 - j) % 13 - 6) / 10 for j in range(width)] for i in range(n)])
    return contrib, frame


SETTINGS = [
    {"top": 3, "min_contribution": 0.0},
    {"top": 1, "min_contribution": 0.0},
    {"top": 5, "min_contribution": 0.25},
    {"top": 0, "min_contribution": 0.0},
    {"top": 3, "min_contribution": -1.0},
    {"top": 3, "min_contribution": 0.0, "labels": LABELS},
]

# sha256 of the JSON of every row of ``_grid(2000)`` under each of SETTINGS, one per line,
# recorded from the implementation before the rule table (commit 5b2d728).
RECORDED = "844a7921b6152da0d64561f9f899b1a0e9ff89050248ee1ac83433ab4ffb4a4b"


def test_the_stored_json_is_byte_identical_to_the_recorded_one() -> None:
    contrib, frame = _grid(2000)
    digest = hashlib.sha256()
    keys: set[str] = set()
    for kw in SETTINGS:
        got = reasons_json_column(contrib, frame, **kw)  # type: ignore[arg-type]
        assert got == [reasons_json(r) for r in reason_codes(contrib, frame, **kw)]  # type: ignore[arg-type]
        for text in got:
            digest.update(text.encode() + b"\n")
            keys.update(item["key"] for item in json.loads(text))
    assert len(keys) >= 33  # every sentence but the retired no_recent_orders
    assert digest.hexdigest() == RECORDED


_VALUES = st.sampled_from([*NUMBERS, -30.0, 0.125, 100.0, 3.0])
_CONTRIBUTIONS = st.sampled_from([0.0, -0.0, 0.1, 0.1, 0.2, -0.3, 5e-05, 0.3, 0.7, 1e12, math.nan])


@st.composite
def _inputs(draw: st.DrawFn) -> tuple[np.ndarray, pd.DataFrame]:
    n = draw(st.integers(1, 8))
    names = draw(st.lists(st.sampled_from(NUMERIC), min_size=1, max_size=len(NUMERIC), unique=True))
    texts = draw(st.lists(st.sampled_from(list(TEXTS)), max_size=len(TEXTS), unique=True))
    columns: dict[str, list[object]] = {}
    for name in names:
        columns[name] = draw(st.lists(_VALUES, min_size=n, max_size=n))
    for name in texts:
        columns[name] = draw(st.lists(st.sampled_from(TEXTS[name]), min_size=n, max_size=n))
    frame = pd.DataFrame(columns)
    width = frame.shape[1] + 1
    contrib = np.array(
        draw(st.lists(_CONTRIBUTIONS, min_size=n * width, max_size=n * width)), dtype=float
    ).reshape(n, width)
    return contrib, frame


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_inputs(), top=st.integers(0, 4), floor=st.sampled_from([0.0, 0.15, -1.0]))
def test_both_paths_agree_and_render_alike_in_every_language(
    data: tuple[np.ndarray, pd.DataFrame], top: int, floor: float
) -> None:
    contrib, frame = data
    per_row = reason_codes(contrib, frame, top=top, min_contribution=floor, labels=LABELS)
    got = reasons_json_column(contrib, frame, top=top, min_contribution=floor, labels=LABELS)
    assert got == [reasons_json(r) for r in per_row]
    for lang in ("en", "ja", "ko"):
        stored = [
            [t(item["key"], lang=lang, **item["params"]) for item in json.loads(text)]
            for text in got
        ]
        assert stored == [[r.render(lang) for r in reasons] for reasons in per_row]
        assert all("{" not in s for row in stored for s in row)


@pytest.mark.parametrize("kw", SETTINGS)
def test_both_paths_agree_on_the_grid(kw: dict[str, object]) -> None:
    contrib, frame = _grid(700)
    sub = frame.iloc[::2]  # a second chunk shape: every other row
    for c, f in ((contrib, frame), (contrib[::2], sub)):
        got = reasons_json_column(c, f, **kw)  # type: ignore[arg-type]
        assert got == [reasons_json(r) for r in reason_codes(c, f, **kw)]  # type: ignore[arg-type]
