"""The learners recover planted heterogeneous effects and follow scikit-learn's conventions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from retain.errors import InvalidParameterError, NotFittedError
from retain.models.uplift import (
    ClassTransformation,
    SLearner,
    TLearner,
    UpliftLearner,
    XLearner,
    cross_fit_uplift,
    split_uplift,
)

LEARNERS = [TLearner, XLearner, SLearner, ClassTransformation]


def _campaign(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Two offers and a holdout. ``a`` works on customers with x > 0 (+0.25), ``b`` on the
    "vip" segment (+0.15); the base rate rises with x. Returns X, arm, y and the true effects."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    segment = rng.choice(np.array(["vip", "regular", "new"]), n)
    noise = rng.normal(size=n)
    arm = rng.choice(np.array(["a", "b", "holdout"]), n, p=[0.4, 0.3, 0.3])
    effect = np.column_stack([0.25 * (x > 0), 0.15 * (segment == "vip")])
    base = 0.1 + 0.05 * np.tanh(x)
    p = base + np.where(arm == "a", effect[:, 0], 0.0) + np.where(arm == "b", effect[:, 1], 0.0)
    y = (rng.random(n) < p).astype(int)
    X = pd.DataFrame({"x": x, "segment": segment, "noise": noise})
    return X, arm, y, effect


@pytest.fixture(scope="module")
def campaign() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    return _campaign(12_000, 0)


@pytest.mark.parametrize("cls", LEARNERS)
def test_each_arm_finds_whom_it_changes(
    cls: type[UpliftLearner], campaign: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]
) -> None:
    X, arm, y, _effect = campaign
    model = cls(control="holdout", random_state=0).fit(X, arm, y)
    assert model.arms_ == ["a", "b"]
    assert model.propensity_ == pytest.approx(
        {"a": (arm == "a").sum() / (arm != "b").sum(), "b": (arm == "b").sum() / (arm != "a").sum()}
    )
    test, _, _, truth = _campaign(4_000, 1)
    uplift = model.predict_uplift(test)
    assert uplift.shape == (4_000, 2)
    for k in range(2):
        assert np.corrcoef(uplift[:, k], truth[:, k])[0, 1] > 0.4
        assert uplift[:, k].mean() == pytest.approx(truth[:, k].mean(), abs=0.04)
    np.testing.assert_allclose(model.predict_uplift(test, arm="b"), uplift[:, 1])


@pytest.mark.parametrize("cls", LEARNERS)
def test_amount_outcomes_use_regressors(cls: type[UpliftLearner]) -> None:
    rng = np.random.default_rng(2)
    n = 8_000
    X = pd.DataFrame({"x": rng.normal(size=n)})
    w = rng.integers(0, 2, n)
    revenue = rng.gamma(2.0, 10.0, n) * (rng.random(n) < 0.3) + w * 15.0 * (X["x"] > 0)
    model = cls(random_state=0).fit(X, w, revenue)
    assert not model.binary_ and model.arms_ == ["treatment"]
    pred = model.predict_uplift(pd.DataFrame({"x": [-1.5, 1.5]}))
    assert pred.shape == (2,)
    # The transformed outcome of ClassTransformation is noisy (its variance is about four
    # times the outcome's), hence the wide tolerance; a sign or scale error still fails.
    assert pred[0] == pytest.approx(0.0, abs=6.0)
    assert pred[1] == pytest.approx(15.0, abs=6.0)


def test_t_learner_outcomes_per_arm(
    campaign: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, arm, y, _ = campaign
    model = TLearner(control="holdout", random_state=0).fit(X, arm, y)
    outcomes = model.predict_outcomes(X.head(50))
    assert list(outcomes.columns) == ["holdout", "a", "b"]
    np.testing.assert_allclose(
        outcomes[["a", "b"]].to_numpy() - outcomes[["holdout"]].to_numpy(),
        model.predict_uplift(X.head(50)),
    )


def test_scikit_learn_conventions() -> None:
    model = XLearner(control="c", num_leaves=7, random_state=3)
    assert model.get_params()["num_leaves"] == 7
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "arms_")
    with pytest.raises(NotFittedError):
        model.predict_uplift(np.zeros((2, 1)))
    with pytest.raises(InvalidParameterError, match="num_leaves"):
        TLearner(num_leaves=1).fit(np.zeros((4, 1)), [0, 1, 0, 1], [0, 1, 1, 0])
    X, arm, y, _ = _campaign(2_000, 4)
    fitted = TLearner(control="holdout", random_state=0).fit(X, arm, y)
    assert fitted is not None and list(fitted.feature_names_in_) == ["x", "segment", "noise"]
    with pytest.raises(InvalidParameterError, match="missing: noise"):
        fitted.predict_uplift(X[["x", "segment"]])
    with pytest.raises(InvalidParameterError, match="'z'"):
        fitted.predict_uplift(X, arm="z")
    with pytest.raises(InvalidParameterError, match="control arm 'control'"):
        TLearner().fit(X, arm, y)
    with pytest.raises(InvalidParameterError):
        TLearner(control="holdout").fit(X, arm[:-1], y)


def test_unseen_category_is_treated_as_missing() -> None:
    X, arm, y, _ = _campaign(3_000, 5)
    model = TLearner(control="holdout", random_state=0).fit(X, arm, y)
    odd = X.head(3).assign(segment=["martian", "vip", None])
    assert np.isfinite(model.predict_uplift(odd)).all()


def test_same_seed_same_estimates() -> None:
    X, arm, y, _ = _campaign(3_000, 6)
    one = ClassTransformation(control="holdout", random_state=5).fit(X, arm, y)
    two = ClassTransformation(control="holdout", random_state=5).fit(X, arm, y)
    np.testing.assert_array_equal(one.predict_uplift(X), two.predict_uplift(X))


def test_cross_fit_estimates_are_out_of_fold() -> None:
    """A row's estimate comes from folds without it: changing its outcome cannot move it.

    Revenue outcomes stratify the folds by arm only, so the folds stay the same when one row's
    outcome changes; a fit on all rows does react to it.
    """
    rng = np.random.default_rng(7)
    n = 1_500
    X = pd.DataFrame({"x": rng.normal(size=n)})
    w = rng.integers(0, 2, n)
    y = rng.gamma(2.0, 5.0, n) + 5.0 * w * (X["x"] > 0)
    learner = TLearner(random_state=0, min_child_samples=5, n_estimators=50)
    before = cross_fit_uplift(learner, X, w, y, n_folds=4)
    assert before.shape == (n,) and np.isfinite(before).all()
    assert not hasattr(learner, "arms_")
    changed = y.copy()
    changed[10] += 500.0
    after = cross_fit_uplift(learner, X, w, changed, n_folds=4)
    assert after[10] == before[10]
    assert not np.array_equal(after, before)  # the other folds did see the change
    full_before = clone(learner).fit(X, w, y).predict_uplift(X.iloc[[10]])
    full_after = clone(learner).fit(X, w, changed).predict_uplift(X.iloc[[10]])
    assert full_after[0] != full_before[0]


def test_cross_fit_removes_the_winners_curse() -> None:
    """No true effect at all: in-sample estimates of the top decile look positive, out of fold
    they do not."""
    rng = np.random.default_rng(8)
    n = 4_000
    X = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    w = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.2).astype(int)
    learner = TLearner(random_state=0, min_child_samples=10)
    in_sample = clone(learner).fit(X, w, y).predict_uplift(X)
    oof = cross_fit_uplift(learner, X, w, y, n_folds=5)

    def observed_top(score: np.ndarray) -> float:
        top = score >= np.quantile(score, 0.9)
        return float(y[top & (w == 1)].mean() - y[top & (w == 0)].mean())

    assert observed_top(in_sample) > 0.15
    assert abs(observed_top(oof)) < 0.08


def test_cross_fit_multi_arm_columns_follow_arm_names(
    campaign: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, arm, y, effect = campaign
    oof = cross_fit_uplift(TLearner(control="holdout", random_state=0), X, arm, y, n_folds=3)
    assert oof.shape == (len(X), 2)
    assert np.corrcoef(oof[:, 0], effect[:, 0])[0, 1] > 0.5
    with pytest.raises(InvalidParameterError):
        cross_fit_uplift(TLearner(control="holdout"), X, arm, y, n_folds=1)


def test_split_uplift_chooses_and_values_with_disjoint_halves() -> None:
    """A row's outcome reaches exactly one of the two models: change it and only one moves."""
    rng = np.random.default_rng(9)
    n = 1_200
    X = pd.DataFrame({"x": rng.normal(size=n)})
    w = rng.integers(0, 2, n)
    y = rng.gamma(2.0, 5.0, n) + 5.0 * w * (X["x"] > 0)
    new = pd.DataFrame({"x": np.linspace(-2, 2, 50)})
    learner = TLearner(random_state=0, min_child_samples=5, n_estimators=50)
    pick, honest = split_uplift(learner, X, w, y, new)
    assert pick.shape == honest.shape == (50,)
    assert not np.array_equal(pick, honest)
    changed = y.copy()
    changed[3] += 500.0
    pick2, honest2 = split_uplift(learner, X, w, changed, new)
    moved = [not np.array_equal(pick, pick2), not np.array_equal(honest, honest2)]
    assert sorted(moved) == [False, True]
