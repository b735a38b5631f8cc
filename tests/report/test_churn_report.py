"""The churn section says which protocol was run and counts reasons by labelled family."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

import retain.warehouse as wh
from retain.i18n import language
from retain.models.churn import Backtest
from retain.models.churn.reasons.labels import active_labels, attribute_words
from retain.report.churn import _evaluation_reading, _reason_counts

METRICS = pd.DataFrame(
    {"model": ["model", "logistic"], "roc_auc": [0.85, 0.84], "pr_auc": [0.6, 0.58]}
)
CV = Backtest(
    metrics=METRICS,
    protocol="3 x repeated stratified 5-fold cross-validation, no oversampling; 95% intervals "
    "from 200 bootstrap resamples of the out-of-fold predictions",
)
ROLLING = Backtest(
    metrics=METRICS,
    by_origin=pd.DataFrame(
        {
            "model": ["model"] * 3,
            "as_of": pd.to_datetime(["1998-01-01", "1998-02-01", "1998-03-01"]),
        }
    ),
    protocol="rolling origins: 12 reference dates; tested on the last 3 (from 1998-01-01)",
)


def test_a_snapshot_reads_as_cross_validation_on_one_date() -> None:
    card = {"reference_dates": ["2019-09-01"], "definition": {"horizon_days": 30}}
    title, reading = _evaluation_reading(CV, card)
    assert "Cross-validated" in title
    assert "3 x 5-fold cross-validation on one snapshot (2019-09-01)" in reading
    assert "200 bootstrap" in reading and "never seen" not in reading
    with language("ja"):
        _, ja = _evaluation_reading(CV, card)
    assert "交差検証" in ja and "2019-09-01" in ja


def test_rolling_origins_read_as_later_dates() -> None:
    card = {
        "reference_dates": [f"1997-{m:02d}-01" for m in range(4, 13)] + ["1998-01-01"] * 3,
        "definition": {"horizon_days": 90},
    }
    title, reading = _evaluation_reading(ROLLING, card)
    assert "by time" in title
    assert "last 3 of 12 reference dates (from 1998-01-01)" in reading
    assert "90-day" in reading and "never seen in training" in reading
    assert "logistic" in reading.lower() or "Logistic" in reading


def _reason(name: str, value: Any) -> dict[str, Any]:
    return {
        "key": "reasons.attribute",
        "params": {"name": name, "value": value},
        "contribution": 0.3,
    }


def test_reason_summary_counts_families_by_label(tmp_path: Any) -> None:
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    rows = [
        [_reason("tenure", 9)],
        [_reason("tenure", 1)],
        [_reason("tenure", 40), _reason("Contract", "Month-to-month")],
        [_reason("Contract", "Month-to-month")],
    ]
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(rows))],
            "as_of": pd.Timestamp("2019-09-01"),
            "definition": "telco",
            "probability": 0.5,
            "risk_band": "high",
            "reasons": [json.dumps(r) for r in rows],
            "model_version": "v1",
            "scored_at": pd.Timestamp("2019-09-02"),
        }
    )
    wh.replace_scope(con, "churn_scores", frame, scope=("as_of", "definition", "model_version"))
    counts = _reason_counts(con, "v1", "telco")
    assert counts is not None
    by_family = dict(zip(counts.iloc[:, 0], counts["_n"], strict=True))
    # One row per family, named by its label: never one customer's "tenure: 9".
    tenure = attribute_words("tenure", "", "en", active_labels())[0]
    assert by_family == {tenure: 3, attribute_words("Contract", "", "en", active_labels())[0]: 1}
    assert not any(":" in family or "9" in family for family in by_family)
