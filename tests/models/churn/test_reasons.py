"""Reason codes: grouped TreeSHAP contributions -> message keys with parameters, in en/ja/ko."""

from __future__ import annotations

import json
import string

import numpy as np
import pandas as pd
import pytest

from retain.errors import InvalidParameterError
from retain.i18n import catalog, t
from retain.models.churn import Reason, reason_codes, reasons_json

COLUMNS = [
    "orders_90d",
    "orders_prev_90d",
    "orders_change_pct",
    "complaints_unresolved",
    "oldest_open_ticket_days",
    "days_since_contact",
    "payment_failures_90d",
    "days_since_payment_failure",
    "country",
]


def _row(**values: object) -> pd.DataFrame:
    base: dict[str, object] = dict.fromkeys(COLUMNS, np.nan)
    base.update(country="JP")
    base.update(values)
    return pd.DataFrame([base], columns=COLUMNS)


def _contrib(**by_feature: float) -> np.ndarray:
    out = np.zeros((1, len(COLUMNS) + 1))
    for name, value in by_feature.items():
        out[0, COLUMNS.index(name)] = value
    out[0, -1] = -1.5  # the bias never becomes a reason
    return out


def test_families_are_summed_and_ranked() -> None:
    row = _row(
        orders_90d=2,
        orders_prev_90d=5,
        orders_change_pct=-60.0,
        complaints_unresolved=2,
        oldest_open_ticket_days=9.4,
        days_since_contact=120.0,
    )
    # orders: 0.2 + 0.3 = 0.5 beats complaints 0.45 alone, which beats contact 0.3.
    contrib = _contrib(
        orders_90d=0.2,
        orders_change_pct=0.3,
        complaints_unresolved=0.45,
        days_since_contact=0.3,
        country=-0.2,
    )
    (reasons,) = reason_codes(contrib, row)
    assert [r.key for r in reasons] == [
        "reasons.orders_down",
        "reasons.complaints_unresolved",
        "reasons.no_contact",
    ]
    assert reasons[0].params == {"pct": 60}
    assert reasons[0].contribution == pytest.approx(0.5)
    assert reasons[1].params == {"n": 2, "days": 9}
    assert reasons[0].render("en") == "orders down 60% vs the previous 90 days"
    assert reasons[1].render("en") == "2 complaint(s) unresolved, the oldest for 9 days"
    assert reasons[2].render("en") == "no contact from us in 120 days"
    assert reasons[0].render("ja") == "注文数が前の 90 日間より 60% 減少"
    assert reasons[2].render("ko") == "120일 동안 당사에서 연락하지 않음"


def test_a_reason_that_the_values_contradict_is_skipped() -> None:
    """Orders push the risk up but rose: no "orders down" sentence; the next family wins."""
    row = _row(
        orders_90d=6,
        orders_prev_90d=3,
        orders_change_pct=100.0,
        payment_failures_90d=1,
        days_since_payment_failure=12.0,
    )
    contrib = _contrib(orders_change_pct=0.9, payment_failures_90d=0.4)
    (reasons,) = reason_codes(contrib, row)
    assert [r.key for r in reasons] == ["reasons.payment_failed"]
    assert (
        reasons[0].render("en") == "1 failed payment(s) in the last 90 days, the latest 12 days ago"
    )


def test_only_risk_raising_families_become_reasons_and_top_limits() -> None:
    row = _row(complaints_unresolved=1, oldest_open_ticket_days=3.0, days_since_contact=45.0)
    contrib = _contrib(complaints_unresolved=-0.4, days_since_contact=0.1, country=0.05)
    (reasons,) = reason_codes(contrib, row, top=1)
    assert [r.key for r in reasons] == ["reasons.no_contact"]
    (reasons,) = reason_codes(contrib, row, top=3)
    assert [r.key for r in reasons] == ["reasons.no_contact", "reasons.country"]
    assert reasons[1].render("ja") == "国: JP"
    (reasons,) = reason_codes(contrib, row, min_contribution=0.2)
    assert reasons == []


def test_features_outside_the_catalog_are_named() -> None:
    frame = pd.DataFrame({"Contract": ["Month-to-month"], "tenure": [2.0]})
    contrib = np.array([[0.7, 0.2, -1.0]])
    (reasons,) = reason_codes(contrib, frame)
    assert [r.render("en") for r in reasons] == ["Contract: Month-to-month", "tenure: 2.0"]


def test_json_form_is_the_churn_scores_contract() -> None:
    text = reasons_json([Reason("reasons.no_contact", {"days": 120}, 0.123456)])
    assert json.loads(text) == [
        {"key": "reasons.no_contact", "params": {"days": 120}, "contribution": 0.1235}
    ]
    assert reasons_json([]) == "[]"


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(InvalidParameterError, match="expected \\(1, 10\\)"):
        reason_codes(np.zeros((1, 3)), _row())


def test_every_reason_key_renders_in_every_language() -> None:
    keys = [k for k in catalog("en") if k.startswith("reasons.")]
    assert len(keys) >= 30
    for key in keys:
        fields = {f for _, f, _, _ in string.Formatter().parse(catalog("en")[key]) if f}
        params = dict.fromkeys(fields, 7)
        for lang in ("en", "ja", "ko"):
            text = t(key, lang=lang, **params)
            assert "{" not in text and text != key, (key, lang)
