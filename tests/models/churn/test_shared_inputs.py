"""Batch scoring reads the feature matrix once and computes the linear terms compiled: the same
floats, bit for bit, as the general path it replaced (issue 17: the average candidate prepared
its input three times and added the linear terms column by column in Python)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from retain.models.churn import ChurnClassifier
from retain.models.churn._contributions import _n_iter, grouped, tree_contributions
from retain.models.churn._inputs import as_matrix
from retain.models.churn._linear import _Z_ROWS, LinearBase
from retain.models.churn._treeshap import ensemble_of
from retain.models.churn.champion import ChurnChampion
from retain.models.churn.reasons import family_groups

_TREES = ChurnClassifier(n_estimators=40, learning_rate=0.1, random_state=0)


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers with gaps, a constant, a flag and two categories (one with five levels, some
    rare, unseen or missing when scoring)."""
    rng = np.random.default_rng(seed)
    plans = np.array(["basic", "plus", "pro", "team", "rare", None], dtype=object)
    frame = pd.DataFrame(
        {
            "days_since_last_order": np.where(
                rng.random(n) < 0.15, np.nan, rng.gamma(2.0, 60.0, n)
            ),
            "orders_90d": rng.poisson(1.5, n).astype(float),
            "revenue_total": rng.normal(50.0, 40.0, n),
            "constant": np.full(n, 3.0),
            "email_opt_in": rng.random(n) < 0.4,
            "attr_plan": rng.choice(plans, n, p=[0.3, 0.25, 0.2, 0.15, 0.005, 0.095]),
            "country": rng.choice(np.array(["JP", "KR", "US"], dtype=object), n),
        }
    )
    days = np.nan_to_num(frame["days_since_last_order"].to_numpy(), nan=300.0)
    logit = days / 100 - 1.2 - 0.4 * frame["orders_90d"] + 0.8 * (frame["attr_plan"] == "pro")
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)


def _grouped_by_columns(contrib: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """``grouped`` as it was written before it was compiled: whole columns, in feature order."""
    if groups is None:
        return contrib
    width = int(groups.max()) + 1
    out = np.zeros((contrib.shape[0], width + 1))
    for j, g in enumerate(groups.tolist()):
        out[:, g] += contrib[:, j]
    out[:, width] = contrib[:, -1]
    return out


def _general_path(
    model: ChurnChampion, X: pd.DataFrame, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The champion's contributions as computed before the shared matrix: the prepared frame,
    the trees' own compiled path, the linear design matrix, then the weighted sum."""
    frame = model.prepare(X)
    w_trees, w_linear = model._weights()
    contrib = None
    if model.trees_ is not None:
        _, trees = model.trees_.predict_with_contributions(X, groups=groups, compiled=True)
        contrib = w_trees * trees
    if model.linear_ is not None:
        linear = w_linear * _grouped_by_columns(model.linear_.contributions(frame), groups)
        contrib = linear if contrib is None else contrib + linear
    assert contrib is not None
    return model.calibrate(contrib.sum(axis=1)), contrib


def test_grouped_adds_in_the_same_order_as_whole_columns() -> None:
    rng = np.random.default_rng(0)
    # Magnitudes far apart, so that another order of additions would change the last bits.
    contrib = rng.normal(size=(500, 9)) * np.array([1e-8, 1.0, 1e8, 3.0, 1e-3, 7.0, 1e5, 2.0, 1])
    groups = np.array([2, 0, 2, 1, 2, 0, 2, 3])
    np.testing.assert_array_equal(grouped(contrib, groups), _grouped_by_columns(contrib, groups))
    assert grouped(contrib, None) is contrib


def test_linear_terms_from_the_matrix_equal_the_design_matrix_ones() -> None:
    frame, y = _frame(3000, seed=1)
    model = ChurnChampion(candidate="logistic", random_state=0).fit(frame, y)
    linear = model.linear_
    assert isinstance(linear, LinearBase)
    # Every kind of design column is exercised: scaled numbers, a missing indicator,
    # categories with several kept levels, a constant without any column.
    kinds = {spec[0] for spec in linear.specs_}
    assert kinds == {"num", "cat", "none"}
    assert any(spec[0] == "num" and spec[4] for spec in linear.specs_)
    assert max(len(spec[1]) for spec in linear.specs_ if spec[0] == "cat") >= 3
    scored, _ = _frame(9000, seed=2)  # more rows than one block of _Z_ROWS
    x = model.feature_matrix(scored)
    assert len(x) > 2 * _Z_ROWS
    prepared = model.prepare(scored)
    reference = linear.contributions(prepared)
    groups = family_groups(list(scored.columns))
    for g in (None, groups, np.array([1, 0, 1, 2, 0, 2, 1])):
        for weight in (1.0, 0.5):
            base = np.random.default_rng(3).normal(size=(len(x), reference.shape[1]))
            if g is not None:
                base = base[:, : int(g.max()) + 2]
            out = base.copy()
            linear.add_contributions(x, g, weight, out)
            expected = base + weight * _grouped_by_columns(reference, g)
            np.testing.assert_array_equal(out, expected)
    # Not vacuous: the terms move the scores, categories and gaps included.
    assert np.abs(reference[:, list(scored.columns).index("attr_plan")]).max() > 0.01
    wrong = np.zeros((len(x), 3))
    with pytest.raises(ValueError, match="shape"):
        linear.add_contributions(x, None, 1.0, wrong)
    # A pickled model (without the cached plan) gives the same terms.
    again = pickle.loads(pickle.dumps(linear))
    assert not hasattr(again, "_plan_")
    out = np.zeros_like(reference)
    again.add_contributions(x, None, 1.0, out)
    np.testing.assert_array_equal(out, reference)


@pytest.mark.parametrize("candidate", ["logistic", "average", "trees"])
@pytest.mark.parametrize("by_family", [True, False])
def test_champion_batch_contributions_are_bit_identical(candidate: str, by_family: bool) -> None:
    frame, y = _frame(4000, seed=4)
    model = ChurnChampion(candidate=candidate, trees=_TREES, random_state=0).fit(frame, y)
    scored, _ = _frame(2500, seed=5)
    groups = family_groups(list(scored.columns)) if by_family else None
    p, contrib = model.predict_with_contributions(scored, groups=groups, compiled=True)
    p_ref, contrib_ref = _general_path(model, scored, groups)
    np.testing.assert_array_equal(contrib, contrib_ref)
    np.testing.assert_array_equal(p, p_ref)
    # Within LightGBM's own TreeSHAP (the uncompiled path) up to the order of additions.
    p_lgb, contrib_lgb = model.predict_with_contributions(scored, groups=groups)
    np.testing.assert_allclose(contrib, contrib_lgb, rtol=0, atol=1e-10)
    np.testing.assert_allclose(p, p_lgb, rtol=0, atol=1e-12)


def test_champion_whose_trees_encode_differently_reads_their_own_matrix() -> None:
    """The shared matrix is only shared when the trees saw the same categories."""
    frame, y = _frame(3000, seed=6)
    model = ChurnChampion(candidate="average", trees=_TREES, random_state=0).fit(frame, y)
    assert model.trees_ is not None
    model.trees_.categories_ = dict(model.trees_.categories_)
    model.trees_.categories_["country"] = ["US", "KR", "JP"]  # other codes for the same values
    scored, _ = _frame(1000, seed=7)
    p, contrib = model.predict_with_contributions(scored, compiled=True)
    p_ref, contrib_ref = _general_path(model, scored, None)
    np.testing.assert_array_equal(contrib, contrib_ref)
    np.testing.assert_array_equal(p, p_ref)


def test_trees_with_a_linear_base_are_bit_identical_too() -> None:
    frame, y = _frame(4000, seed=8)
    model = ChurnClassifier(n_estimators=40, random_state=0, linear_base=True).fit(frame, y)
    assert model.linear_ is not None
    scored, _ = _frame(2000, seed=9)
    groups = family_groups(list(scored.columns))
    prepared = model.prepare(scored)
    trees = tree_contributions(model, model.feature_matrix(scored), None)
    assert trees is not None
    fast = tree_contributions(model, model.feature_matrix(scored), groups)
    # As computed before: TreeSHAP of the prepared frame plus the design-matrix terms.
    plain = ensemble_of(model.booster_, _n_iter(model.booster_))
    assert plain is not None
    before = plain.contributions(as_matrix(prepared)) + model.linear_.contributions(prepared)
    np.testing.assert_array_equal(trees, before)
    np.testing.assert_array_equal(fast, _grouped_by_columns(before, groups))
