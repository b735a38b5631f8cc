"""The champion by backtest: candidates on the same protocol, the simpler one wins a tie."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retain.models.churn import ChurnClassifier, backtest, repeated_cv, save_model
from retain.models.churn.champion import (
    ChurnChampion,
    bootstrap_interval,
    choose_champion,
)
from retain.models.churn.reasons import family_groups
from retain.models.churn.registry import load_model
from retain.models.churn.scoring import score_frame
from retain.models.registry import ChurnKind, ModelRegistry

# Small, fast trees: the tests check the choice, not the model's best accuracy.
_TREES = ChurnClassifier(n_estimators=60, learning_rate=0.1, random_state=0)


def _panel(kind: str, origins: int = 7, n: int = 700, seed: int = 0) -> pd.DataFrame:
    """Monthly panel whose churn is additive, or an interaction plus a saturating effect.

    ``interaction``: churn where a and b have the same sign (no additive model sees it), plus
    an effect of d that stops growing at d = 1; in the two test months d moves far beyond the
    training range, where a linear model extrapolates the slope and the trees stay flat.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(origins):
        a, b, d = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
        plan = rng.choice(["basic", "plus"], n)
        if kind == "additive":
            logit = -0.5 + 1.2 * a - 0.9 * b + 0.6 * (plan == "plus")
        else:
            d = d + (10.0 if k >= origins - 2 else 0.0)
            logit = np.where(a * b > 0, 2.0, -2.0) + 3.0 * np.clip(d, -1.0, 1.0)
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "as_of": pd.Timestamp("2023-01-01") + pd.DateOffset(months=k),
                    "days_since_last_order": 100 + a * 30,
                    "orders_total": b,
                    "tenure_days": d,
                    "attr_plan": plan,
                    "churned": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_logistic_wins_additive_signal() -> None:
    result = backtest(
        _panel("additive"),
        horizon_days=30,
        estimator=_TREES,
        baselines=("recency",),
        test_origins=2,
        candidates=True,
    )
    table = result.candidates.set_index("candidate")
    assert set(table.index) == {"logistic", "average", "trees"}
    for metric in ("roc_auc", "brier"):
        assert (table[f"{metric}_low"] <= table[metric] + 1e-9).all()
        assert (table[metric] <= table[f"{metric}_high"] + 1e-9).all()
    assert result.champion["chosen"] == "logistic"
    assert result.champion["metric"] == "roc_auc"
    assert "logistic" in result.champion["reason"]
    # The model row is the champion's, pooled over the same test rows.
    model = result.metrics.set_index("model").loc["model"]
    assert model["roc_auc"] == pytest.approx(table.loc["logistic", "roc_auc"])
    assert result.to_dict()["champion"]["chosen"] == "logistic"


def test_trees_win_an_interaction() -> None:
    result = backtest(
        _panel("interaction", n=1200),
        horizon_days=30,
        estimator=_TREES,
        baselines=(),
        test_origins=2,
        candidates=True,
    )
    table = result.candidates.set_index("candidate")
    assert table.loc["trees", "roc_auc"] > table.loc["logistic", "roc_auc_high"]
    # The average is dragged down by its linear half's extrapolation, beyond a paired tie.
    assert result.champion["chosen"] == "trees"
    assert result.champion["rule"] == "best"
    assert result.champion["gaps"]["average"][0] > 0
    assert "trees" in result.champion["reason"]


def test_tie_goes_to_the_simpler_model() -> None:
    table = pd.DataFrame(
        [
            {"candidate": "logistic", "roc_auc": 0.810, "roc_auc_low": 0.80, "roc_auc_high": 0.82},
            {"candidate": "trees", "roc_auc": 0.812, "roc_auc_low": 0.805, "roc_auc_high": 0.82},
        ]
    )
    chosen = choose_champion(table, "roc_auc")
    assert (chosen["chosen"], chosen["best"], chosen["rule"]) == ("logistic", "trees", "tie")
    table.loc[0, "roc_auc"] = 0.70
    assert choose_champion(table, "roc_auc")["chosen"] == "trees"
    # Brier: lower is better.
    brier = pd.DataFrame(
        [
            {"candidate": "logistic", "brier": 0.20, "brier_low": 0.19, "brier_high": 0.21},
            {"candidate": "trees", "brier": 0.15, "brier_low": 0.14, "brier_high": 0.16},
        ]
    )
    assert choose_champion(brier, "brier")["chosen"] == "trees"


def test_fast_bootstrap_auc_matches_resampling_by_hand() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.3).astype(int)
    p = np.round(rng.random(400) * 0.5 + 0.4 * y, 2)  # ties on purpose
    low, high = bootstrap_interval(y, p, "roc_auc", n_bootstrap=300)
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(y, p)
    assert low < auc < high
    draws = [roc_auc_score(y[s], p[s]) for s in (rng.integers(0, 400, 400) for _ in range(300))]
    assert low == pytest.approx(np.quantile(draws, 0.025), abs=0.02)
    assert high == pytest.approx(np.quantile(draws, 0.975), abs=0.02)
    from sklearn.metrics import average_precision_score, brier_score_loss

    for metric, value in (
        ("pr_auc", average_precision_score(y, p)),
        ("brier", brier_score_loss(y, p)),
    ):
        low, high = bootstrap_interval(y, p, metric, n_bootstrap=100)
        assert low < value < high


def test_repeated_cv_with_candidates() -> None:
    panel = _panel("additive", origins=1, n=900)
    X = panel[["days_since_last_order", "orders_total", "tenure_days", "attr_plan"]]
    result = repeated_cv(
        X,
        panel["churned"],
        estimator=_TREES,
        n_repeats=1,
        n_bootstrap=50,
        candidates=True,
    )
    assert list(result.metrics["model"]) == ["model", "logistic"]
    assert set(result.candidates["candidate"]) == {"logistic", "average", "trees"}
    assert "roc_auc_low" in result.candidates.columns
    assert result.champion["chosen"] in {"logistic", "average"}


@pytest.mark.parametrize("candidate", ["logistic", "average"])
def test_champion_scores_with_exact_reasons_and_loads(candidate: str, tmp_path: Path) -> None:
    panel = _panel("additive", origins=3, n=400)
    features = ["days_since_last_order", "orders_total", "tenure_days", "attr_plan"]
    model = ChurnChampion(candidate=candidate, trees=_TREES, random_state=0)
    model.fit(panel[features], panel["churned"], time=panel["as_of"])
    X = panel[features].head(200)
    groups = family_groups(features)
    p, contrib = model.predict_with_contributions(X, groups=groups, compiled=True)
    assert np.allclose(p, model.predict_proba(X)[:, 1])
    # Contributions add up to the log-odds the probability comes from.
    assert np.allclose(1 / (1 + np.exp(-contrib.sum(axis=1))), p)
    if candidate == "logistic":
        # Linear terms: coefficient x centred value; a larger a (recency) raises the risk.
        full = model.contributions(X)
        order = np.argsort(X["days_since_last_order"].to_numpy())
        assert np.all(np.diff(full[order, 0]) >= -1e-12)
    card = {
        "version": "20240101T000000Z-beef",
        "kind": "churn",
        "definition": {"name": "default"},
        "features": [
            {"name": "days_since_last_order", "kind": "numeric"},
            {"name": "orders_total", "kind": "numeric"},
            {"name": "tenure_days", "kind": "numeric"},
            {"name": "attr_plan", "kind": "categorical"},
        ],
        "attributes": [{"name": "attr_plan", "key": "plan"}],
        "risk_bands": {"high": 0.7, "medium": 0.4},
    }
    save_model(model, card, models_dir=tmp_path)
    registered = load_model(models_dir=tmp_path)
    assert isinstance(registered.model, ChurnChampion)
    scored = score_frame(registered, X.assign(customer_id=range(200)), workers=1)
    assert np.allclose(scored["probability"], p)
    assert scored["reasons"].astype(str).str.startswith("[").all()
    loaded = ModelRegistry(tmp_path).load(ModelRegistry(tmp_path).latest(ChurnKind.name))
    assert isinstance(loaded.model, ChurnChampion)
    assert isinstance(pickle.loads(pickle.dumps(model)), ChurnChampion)
