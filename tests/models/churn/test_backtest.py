"""Metrics, the rolling-origin protocol, and drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retain.errors import InvalidParameterError
from retain.models.churn import (
    Backtest,
    ChurnClassifier,
    backtest,
    drift_report,
    evaluation_metrics,
    lift_table,
    psi,
    reference_profile,
)


def test_metrics_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.3, 0.2, 0.1, 0.1, 0.05, 0.0])
    m = evaluation_metrics(y, p)
    # Of the 3 x 7 = 21 (churner, stayer) pairs, the churner ranks higher in 14 + 4 * 0 ... :
    # 0.9 and 0.8 beat all 7 stayers; 0.3 beats 6 of 7 (not 0.7): (7 + 7 + 6) / 21.
    assert m["roc_auc"] == pytest.approx(20 / 21)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    # Top 10% = 1 row (0.9, a churner): hit rate 1 vs base 0.3 -> lift 3.33, recall 1/3.
    assert m["lift_10"] == pytest.approx(1 / 0.3)
    assert m["recall_10"] == pytest.approx(1 / 3)
    # Top 20% = 2 rows, both churners.
    assert m["recall_20"] == pytest.approx(2 / 3)
    table = lift_table(y, p, shares=(0.5, 1.0))
    assert table["recall"].tolist() == pytest.approx([1.0, 1.0])


def _panel(origins: int = 10, n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(origins):
        recency = rng.exponential(60, n)
        noise = rng.normal(size=n)
        p = 1 / (1 + np.exp(-(-2 + recency / 40)))
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "as_of": pd.Timestamp("2023-01-01") + pd.DateOffset(months=k),
                    "days_since_last_order": recency,
                    "noise": noise,
                    "churned": (rng.random(n) < p).astype(int),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_rolling_origins_never_train_on_overlapping_labels() -> None:
    panel = _panel()
    seen: list[pd.Timestamp] = []

    class Spy(ChurnClassifier):
        def fit(self, X, y, *, time=None):  # type: ignore[no-untyped-def]
            seen.append(pd.to_datetime(pd.Series(time)).max())
            return super().fit(X, y, time=time)

    result = backtest(
        panel,
        horizon_days=60,
        estimator=Spy(random_state=0, n_estimators=30),
        baselines=("recency", "logistic"),
        test_origins=2,
    )
    tests = sorted(panel["as_of"].unique())[-2:]
    # With H = 60 days the latest training date is at least 60 days before each test date.
    for last_train, test_date in zip(seen, tests, strict=True):
        assert last_train + pd.Timedelta(days=60) <= test_date
    assert set(result.metrics["model"]) == {"model", "recency", "logistic"}
    assert len(result.by_origin) == 2 * 3
    assert result.metrics.set_index("model").loc["recency", "roc_auc"] > 0.7
    assert "bgnbd" not in set(result.metrics["model"])
    assert Backtest.from_dict(result.to_dict()).metrics.shape == result.metrics.shape
    # Every model and baseline with its bootstrap 95% interval, like the candidates.
    for metric in ("roc_auc", "brier"):
        values = result.metrics
        assert (values[f"{metric}_low"] <= values[metric]).all()
        assert (values[metric] <= values[f"{metric}_high"]).all()
        assert (values[f"{metric}_low"] < values[f"{metric}_high"]).all()


def test_inapplicable_baseline_is_noted() -> None:
    panel = _panel(origins=6).drop(columns=["days_since_last_order"])
    result = backtest(
        panel,
        horizon_days=30,
        estimator=ChurnClassifier(n_estimators=10),
        baselines=("recency",),
        test_origins=1,
    )
    assert list(result.metrics["model"]) == ["model"]
    assert result.notes == ["baseline recency left out: it does not apply to this data"]


def test_too_short_history_is_a_clear_error() -> None:
    with pytest.raises(InvalidParameterError, match="no test date has 3 earlier reference dates"):
        backtest(_panel(origins=3), horizon_days=90, test_origins=1)
    with pytest.raises(InvalidParameterError, match="unknown baseline 'coin'"):
        backtest(_panel(), horizon_days=30, baselines=("coin",))


def test_psi_and_drift_report() -> None:
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    # Hand value: (0.7-0.5) ln(0.7/0.5) + (0.3-0.5) ln(0.3/0.5) = 0.1695
    assert psi(np.array([0.5, 0.5]), np.array([0.7, 0.3])) == pytest.approx(0.16946, abs=1e-4)
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=5000), "plan": rng.choice(["x", "y"], 5000)})
    profile = reference_profile(ref, rng.random(5000))
    same = pd.DataFrame({"a": rng.normal(size=5000), "plan": rng.choice(["x", "y"], 5000)})
    moved = same.assign(a=same["a"] + 1.0, plan="y")
    stable = drift_report(profile, same, rng.random(5000)).set_index("name")
    assert (stable["status"] == "stable").all()
    shifted = drift_report(profile, moved, rng.random(5000) ** 3).set_index("name")
    assert shifted.loc["a", "status"] == "shift" and shifted.loc["plan", "status"] == "shift"
    assert shifted.loc["(score)", "psi"] > 0.25
