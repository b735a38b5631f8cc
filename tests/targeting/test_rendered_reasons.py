"""Stored reasons read back in the reader's language; malformed entries are skipped."""

from __future__ import annotations

import json

from retain.targeting import RenderedReason, render_reasons


def test_reasons_render_in_each_language() -> None:
    text = json.dumps(
        [{"key": "reasons.payment_failed", "params": {"n": 2, "days": 5}, "contribution": 0.25}]
    )
    en = render_reasons(text, lang="en")
    assert en == [
        RenderedReason(
            key="reasons.payment_failed",
            text=en[0].text,
            params={"n": 2, "days": 5},
            contribution=0.25,
        )
    ]
    assert "5 days" in en[0].text
    assert render_reasons(text, lang="ja")[0].text != en[0].text


def test_malformed_reasons_are_skipped() -> None:
    assert render_reasons("not json") == []
    assert render_reasons(None) == []
    assert render_reasons('{"key": "x"}') == []
    items = [
        "text",
        {"params": {}},
        {"key": 3},
        {"key": "reasons.payment_failed", "params": [], "contribution": "big"},
    ]
    (only,) = render_reasons(json.dumps(items))
    assert only.params == {} and only.contribution is None
