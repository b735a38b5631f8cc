"""Qini and uplift curves, AUUC, deciles and targeting comparisons, against known numbers."""

from __future__ import annotations

import numpy as np
import pytest

from retain.errors import InvalidParameterError
from retain.models.uplift import (
    auuc,
    compare_targeting,
    evaluate_arms,
    qini_auc,
    qini_curve,
    score_intervals,
    uplift_at,
    uplift_by_decile,
    uplift_curve,
)

# Twelve customers with ties in the score. The expected numbers are scikit-uplift 0.5.1's
# (sklift.metrics qini_curve, uplift_curve, qini_auc_score, uplift_auc_score) on the same
# arrays, computed in the benchmark environment of benchmarks/uplift.py (scikit-uplift takes
# the arguments as y, uplift, treatment).
Y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1])
W = np.array([1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.7, 0.5, 0.4, 0.3, 0.3, 0.2, 0.1, 0.05, 0.0])


def test_curves_match_scikit_uplift() -> None:
    x, q = qini_curve(Y, W, S)
    np.testing.assert_array_equal(x, [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12])
    np.testing.assert_allclose(q, [0, 1, 1, -1, 0.5, 0, 0, -0.5, 0, 0.6, 0])
    x, u = uplift_curve(Y, W, S)
    np.testing.assert_array_equal(x, [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12])
    expected = [0, 1, 1, -4 / 3, 5 / 6, 0, 0, -0.9, 0, 1.1, 0]
    np.testing.assert_allclose(u, expected)


def test_areas_match_scikit_uplift() -> None:
    assert qini_auc(Y, W, S) == pytest.approx(0.05925925925925926, rel=1e-12)
    assert auuc(Y, W, S) == pytest.approx(0.03786008230452673, rel=1e-12)


def _experiment(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A randomized test where only customers with x > 0 respond to the treatment."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    w = rng.integers(0, 2, n)
    p = 0.1 + 0.3 * w * (x > 0)
    return x, w, (rng.random(n) < p).astype(int)


def test_perfect_ranking_scores_one_and_random_about_zero() -> None:
    y = np.array([1, 0, 0, 1, 0, 1, 0, 0])
    w = np.array([1, 1, 0, 0, 1, 0, 0, 1])
    best = y * w - y * (1 - w)  # treated responders first, control responders last
    assert qini_auc(y, w, best) == pytest.approx(1.0)
    x, w, y = _experiment(20_000, 1)
    rng = np.random.default_rng(2)
    assert abs(qini_auc(y, w, rng.random(y.size))) < 0.08
    # The oracle ranks by realized outcomes, so a true-effect ranking scores well below 1.
    assert qini_auc(y, w, x) > 0.18
    assert qini_auc(y, w, -x) < -0.18


def test_uplift_at_top_share_reads_the_planted_effect() -> None:
    x, w, y = _experiment(40_000, 3)
    assert uplift_at(y, w, x, k=0.5) == pytest.approx(0.3, abs=0.02)
    assert uplift_at(y, w, -x, k=0.5) == pytest.approx(0.0, abs=0.02)


def test_intervals_cover_the_point_and_separate_good_from_random() -> None:
    x, w, y = _experiment(6_000, 4)
    est = score_intervals(y, w, x, n_boot=100)
    for e in est.values():
        assert e.low <= e.value <= e.high
    assert est["qini"].low > 0.08
    table = compare_targeting(y, w, {"model": x, "reversed": -x}, n_boot=100)
    assert list(table["policy"]) == ["model", "reversed", "random"]
    rows = table.set_index("policy")
    assert rows.loc["model", "qini_low"] > rows.loc["random", "qini_high"]
    assert rows.loc["reversed", "qini_high"] < rows.loc["random", "qini_low"]


def test_uplift_by_decile_finds_the_responders_in_the_top_half() -> None:
    x, w, y = _experiment(20_000, 5)
    table = uplift_by_decile(y, w, x, n_boot=100)
    assert list(table["decile"]) == list(range(1, 11))
    assert table[["n_treated", "n_control"]].to_numpy().sum() == 20_000
    top, bottom = table.iloc[:5], table.iloc[5:]
    assert (top["uplift_low"] > 0.15).all()
    assert (bottom["uplift_high"] > -0.05).all() and (bottom["uplift"].abs() < 0.06).all()
    assert (table["uplift_low"] <= table["uplift"]).all()
    assert (table["uplift"] <= table["uplift_high"]).all()


def test_evaluate_arms_ranks_each_arm_against_control() -> None:
    rng = np.random.default_rng(6)
    n = 30_000
    x = rng.normal(size=n)
    arm = rng.choice(np.array(["a", "b", "control"]), n)
    p = 0.1 + np.where(arm == "a", 0.3 * (x > 0), 0.0) + np.where(arm == "b", 0.3 * (x < 0), 0.0)
    y = (rng.random(n) < p).astype(int)
    table = evaluate_arms(y, arm, np.column_stack([x, -x]), ["a", "b"], n_boot=50)
    assert list(table["arm"]) == ["a", "b"]
    assert (table["qini_low"] > 0.2).all()
    assert table["observed_uplift"].to_numpy() == pytest.approx([0.15, 0.15], abs=0.02)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidParameterError):
        qini_auc(Y, W[:-1], S)
    with pytest.raises(InvalidParameterError):
        qini_auc(Y, np.full(Y.size, 2), S)
    with pytest.raises(InvalidParameterError):
        auuc(Y, np.ones(Y.size, dtype=int), S)
