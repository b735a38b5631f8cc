"""The compiled TreeSHAP equals LightGBM's ``pred_contrib`` on every kind of split it meets.

LightGBM's own TreeSHAP is the reference (Lundberg et al. 2018, Algorithm 2, as implemented in
``Tree::TreeSHAP``); these models exercise numeric splits with each missing type (none, zero,
NaN), categorical bitsets with unseen and missing codes, repeated features on one path, trees
too large for the direct pattern table (hash path) and single-leaf trees.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retain.models.churn._treeshap import TreeEnsemble, ensemble_of


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "c": pd.Categorical(
                np.where(rng.random(n) < 0.1, None, rng.choice(list("vwxyz"), n)),
                categories=list("vwxyz"),
            ),
            "d": np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n)),
            "e": rng.integers(0, 5, n).astype(float),
        }
    )
    logit = (
        frame["a"]
        + np.nan_to_num(frame["b"])
        + (frame["c"] == "x")
        + (frame["d"] == 0)
        - 0.3 * frame["e"]
    ).to_numpy()
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    out = frame.copy()
    out["c"] = frame["c"].cat.codes.astype(float).replace(-1, np.nan)
    return out.to_numpy(dtype=np.float64)


def _train(params: dict[str, Any], rounds: int = 25) -> tuple[lgb.Booster, pd.DataFrame]:
    frame, y = _frame(4000, seed=0)
    base = {"objective": "binary", "verbosity": -1, "min_data_per_group": 10, "cat_smooth": 1.0}
    booster = lgb.train({**base, **params}, lgb.Dataset(frame, y), rounds)
    return booster, frame


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 7},
        {"num_leaves": 15, "min_data_in_leaf": 5},
        {"num_leaves": 63, "min_data_in_leaf": 5},  # 62 splits: the hash table path
        {"num_leaves": 15, "zero_as_missing": True},
        {"num_leaves": 15, "use_missing": False},
        {"num_leaves": 4, "max_cat_to_onehot": 8},  # one-vs-rest categorical splits
    ],
    ids=["small", "default", "large", "zero-missing", "no-missing", "onehot-cats"],
)
def test_equals_lightgbm_pred_contrib(params: dict[str, Any]) -> None:
    booster, _ = _train(params)
    scored, _ = _frame(3000, seed=1)  # unseen rows
    expected = booster.predict(scored, pred_contrib=True)
    ensemble = TreeEnsemble.from_booster(booster)
    assert ensemble is not None
    got = ensemble.contributions(_matrix(scored))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    assert (np.abs(got[:, :-1]).sum(axis=0) > 0).all()  # every feature was used


@pytest.mark.parametrize("group_bytes", [1, 4096, 1 << 40])
def test_trees_added_in_cache_sized_groups_give_the_same_values(group_bytes: int) -> None:
    """One tree per group, a few trees per group, or all at once: the same contributions."""
    booster, _ = _train({"num_leaves": 15, "min_data_in_leaf": 5}, rounds=40)
    scored, _ = _frame(3000, seed=3)
    ensemble = TreeEnsemble.from_booster(booster)
    assert ensemble is not None
    got = ensemble.contributions(_matrix(scored), group_bytes=group_bytes)
    expected = booster.predict(scored, pred_contrib=True)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_unseen_and_out_of_range_codes_go_right_like_lightgbm() -> None:
    booster, frame = _train({"num_leaves": 15})
    x = _matrix(frame.iloc[:200])
    x[:50, 2] = 17.0  # a code no split has seen
    x[50:100, 2] = -3.0  # negative codes
    x[100:150, :] = np.nan  # everything missing
    ensemble = TreeEnsemble.from_booster(booster)
    assert ensemble is not None
    expected = booster.predict(x, pred_contrib=True)
    np.testing.assert_allclose(ensemble.contributions(x), expected, rtol=0, atol=1e-10)


def test_single_leaf_trees_add_only_their_value_to_the_bias() -> None:
    frame = pd.DataFrame({"a": np.zeros(100), "b": np.ones(100)})
    y = np.r_[np.zeros(50), np.ones(50)]
    booster = lgb.train({"objective": "binary", "verbosity": -1}, lgb.Dataset(frame, y), 3)
    ensemble = TreeEnsemble.from_booster(booster)
    assert ensemble is not None and len(ensemble.split_node) == 0
    got = ensemble.contributions(frame.to_numpy(dtype=np.float64))
    np.testing.assert_allclose(got, booster.predict(frame, pred_contrib=True), atol=1e-12)


def test_groups_sum_columns_and_rows_still_sum_to_the_raw_score() -> None:
    booster, frame = _train({"num_leaves": 15})
    x = _matrix(frame.iloc[:500])
    ensemble = TreeEnsemble.from_booster(booster)
    assert ensemble is not None
    full = ensemble.contributions(x)
    grouped = ensemble.contributions(x, groups=np.array([0, 0, 1, 2, 1]))
    np.testing.assert_allclose(grouped[:, 0], full[:, 0] + full[:, 1], atol=1e-12)
    np.testing.assert_allclose(grouped[:, 1], full[:, 2] + full[:, 4], atol=1e-12)
    np.testing.assert_allclose(grouped.sum(axis=1), booster.predict(x, raw_score=True), atol=1e-9)


def test_the_ensemble_is_built_once_per_booster() -> None:
    booster, _ = _train({"num_leaves": 7}, rounds=10)
    first = ensemble_of(booster, 10)
    assert first is ensemble_of(booster, 10)
    assert first is not None and first.n_trees == 10
    fewer = ensemble_of(booster, 4)
    assert fewer is not None and fewer.n_trees == 4


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.floats(-4, 4), st.just(float("nan")), st.just(0.0)),
            st.one_of(st.floats(-4, 4), st.just(float("nan"))),
            st.one_of(st.integers(-1, 6).map(float), st.just(float("nan"))),
            st.one_of(st.floats(-2, 2), st.just(0.0), st.just(1e-40)),
            st.integers(0, 5).map(float),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_any_rows_match_lightgbm(rows: list[tuple[float, ...]]) -> None:
    booster = _BOOSTER
    x = np.asarray(rows, dtype=np.float64)
    ensemble = ensemble_of(booster, booster.current_iteration())
    assert ensemble is not None
    np.testing.assert_allclose(
        ensemble.contributions(x), booster.predict(x, pred_contrib=True), rtol=0, atol=1e-10
    )


_BOOSTER = _train({"num_leaves": 15, "zero_as_missing": False}, rounds=15)[0]
