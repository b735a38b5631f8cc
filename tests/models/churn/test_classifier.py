"""ChurnClassifier: scikit-learn conformance, calibration by time, categoricals, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from retain.errors import InvalidParameterError, NotFittedError
from retain.models.churn import ChurnClassifier, calibration_table, evaluation_metrics


@parametrize_with_checks(
    [
        ChurnClassifier(random_state=0, n_estimators=30),
        ChurnClassifier(random_state=0, n_estimators=30, linear_base=True),
    ]
)
def test_sklearn_conformance(estimator: ChurnClassifier, check: object) -> None:
    """Every check of sklearn 1.9's suite passes; none is skipped (array-API checks need
    SCIPY_ARRAY_API and are skipped by sklearn itself)."""
    check(estimator)  # type: ignore[operator]


def _panel(
    n_per: int = 1500, origins: int = 8, seed: int = 0, intercept: float = -1.0
) -> pd.DataFrame:
    """Rows whose true churn probability is known: logit = -1 + 1.5 x1 - x2 (+0.8 for plan b)."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(origins):
        x1, x2 = rng.normal(size=n_per), rng.normal(size=n_per)
        plan = rng.choice(["a", "b", "c"], size=n_per)
        logit = intercept + 1.5 * x1 - x2 + 0.8 * (plan == "b")
        p = 1 / (1 + np.exp(-logit))
        frames.append(
            pd.DataFrame(
                {
                    "as_of": pd.Timestamp("2024-01-01") + pd.DateOffset(months=k),
                    "x1": x1,
                    "x2": x2,
                    "plan": plan,
                    "p_true": p,
                    "churned": (rng.random(n_per) < p).astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_probabilities_are_calibrated_and_near_the_truth() -> None:
    train, test = _panel(seed=1), _panel(origins=2, seed=2)
    X = ["x1", "x2", "plan"]
    model = ChurnClassifier(random_state=0).fit(train[X], train["churned"], time=train["as_of"])
    p = model.predict_proba(test[X])[:, 1]
    assert model.calibration_ == "isotonic"
    # Calibration slice = the latest origin(s), never seen by the trees.
    latest = train["as_of"] >= sorted(train["as_of"].unique())[-1]
    assert model.n_calibration_ == int(latest.sum())
    table = calibration_table(test["churned"], p)
    ece = ((table["mean_predicted"] - table["observed"]).abs() * table["n"]).sum() / len(p)
    assert ece < 0.03
    truth = evaluation_metrics(test["churned"], test["p_true"])
    got = evaluation_metrics(test["churned"], p)
    assert got["roc_auc"] > truth["roc_auc"] - 0.01
    assert got["brier"] < truth["brier"] + 0.005


def test_balanced_class_weight_keeps_probabilities_honest() -> None:
    """Re-weighting pushes raw scores up; the untouched calibration slice brings them back."""
    train, test = _panel(seed=3, intercept=-3.0), _panel(origins=2, seed=4, intercept=-3.0)
    X = ["x1", "x2", "plan"]
    model = ChurnClassifier(random_state=0, class_weight="balanced")
    model.fit(train[X], train["churned"], time=train["as_of"])
    p = model.predict_proba(test[X])[:, 1]
    raw = 1 / (1 + np.exp(-model.contributions(test[X]).sum(axis=1)))
    base = test["churned"].mean()
    assert base < 0.15
    assert raw.mean() > base + 0.04  # the trees alone over-predict...
    assert abs(p.mean() - base) < 0.02  # ...the calibrated output does not


def test_categoricals_are_native_and_unknown_levels_are_missing() -> None:
    train = _panel(origins=4, seed=5)
    X = ["x1", "x2", "plan"]
    model = ChurnClassifier(random_state=0, linear_base=True).fit(
        train[X], train["churned"], time=train["as_of"]
    )
    assert model.categories_ == {"plan": ["a", "b", "c"]}
    new = pd.DataFrame({"x1": [0.0, 0.0], "x2": [0.0, 0.0], "plan": ["b", "zzz"]})
    p = model.predict_proba(new)[:, 1]
    assert np.isfinite(p).all()
    contrib = model.contributions(new)
    assert contrib.shape == (2, 4)
    # Contributions (TreeSHAP plus the linear base's terms) add up to the raw log-odds.
    prepared = model.prepare(new)
    raw = model.booster_.predict(prepared, raw_score=True) + model.linear_.margin(prepared)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=1e-6)
    # An unknown level contributes what a missing one does: nothing from the linear base.
    assert model.linear_.contributions(prepared)[1, 2] == pytest.approx(
        -float(
            model.linear_.mean_[model.linear_.owner_ == 2]
            @ model.linear_.coef_[model.linear_.owner_ == 2]
        )
    )


def test_without_time_the_slices_are_random_and_stratified() -> None:
    data = _panel(origins=1, n_per=4000, seed=6)
    model = ChurnClassifier(random_state=0).fit(data[["x1", "x2", "plan"]], data["churned"])
    assert model.n_calibration_ == pytest.approx(600, abs=2)
    assert model.calibration_ == "sigmoid"


def test_not_fitted_message_is_sklearns() -> None:
    with pytest.raises(NotFittedError, match="This ChurnClassifier instance is not fitted yet"):
        ChurnClassifier().predict_proba(np.zeros((2, 2)))


def test_bad_parameter_message() -> None:
    with pytest.raises(InvalidParameterError) as info:
        ChurnClassifier(learning_rate=-1.0).fit(np.zeros((50, 2)), np.arange(50) % 2)
    assert str(info.value.message) == (
        "The 'learning_rate' parameter of ChurnClassifier must be a float in the range (0, 1]. "
        "Got -1.0 instead."
    )


def test_columns_must_match_training() -> None:
    data = _panel(origins=3, n_per=300, seed=7)
    model = ChurnClassifier(random_state=0, n_estimators=20).fit(
        data[["x1", "x2", "plan"]], data["churned"]
    )
    with pytest.raises(InvalidParameterError, match="missing: x2; unexpected: x3"):
        model.predict_proba(data[["x1", "plan"]].assign(x3=1.0))
    with pytest.raises(InvalidParameterError, match="column x1 holds infinite values"):
        model.predict_proba(data[["x1", "x2", "plan"]].assign(x1=np.inf))
    with pytest.raises(InvalidParameterError, match="time has 3 values"):
        ChurnClassifier().fit(data[["x1"]], data["churned"], time=[1, 2, 3])
