"""Properties of every likelihood: finite, weights == repeated rows, analytic gradient correct."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from retain.models.clv import bgbb, bgnbd, gamma_gamma, pareto_nbd, sbg

positive = st.floats(min_value=0.05, max_value=20.0)


@st.composite
def rfm_rows(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 12))
    T = np.array(draw(st.lists(st.floats(0.5, 80.0), min_size=n, max_size=n)))
    x = np.array(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), dtype=float)
    share = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    tx = np.where(x > 0, T * share, 0.0)
    w = np.array(draw(st.lists(st.integers(1, 5), min_size=n, max_size=n)), dtype=float)
    return x, tx, T, w


@st.composite
def bgbb_rows(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_periods = draw(st.integers(1, 10))
    k = draw(st.integers(1, 10))
    tx = np.array(draw(st.lists(st.integers(0, n_periods), min_size=k, max_size=k)), dtype=float)
    x = np.array([draw(st.integers(1 if r > 0 else 0, int(r))) for r in tx], dtype=float)
    tx = np.where(x > 0, tx, 0.0)
    w = np.array(draw(st.lists(st.integers(1, 5), min_size=k, max_size=k)), dtype=float)
    return x, tx, np.full(k, float(n_periods)), w


def _check(fn: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray) -> None:
    value, grad = fn(theta)
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))
    for j in range(theta.size):
        h = 1e-6 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numeric = (fn(up)[0] - fn(down)[0]) / (2 * h)
        assert abs(numeric - grad[j]) <= 1e-4 * max(1.0, abs(grad[j]), abs(value) * 1e-6), j


def _repeat(
    weighted: float,
    fn: Callable[..., tuple[float, np.ndarray]],
    theta: np.ndarray,
    cols: tuple[np.ndarray, ...],
    w: np.ndarray,
) -> None:
    rep = [np.repeat(c, w.astype(int)) for c in cols]
    expanded, _ = fn(theta, *rep, np.ones(int(w.sum())))
    assert np.isclose(weighted, expanded, rtol=1e-10, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(rfm_rows(), st.tuples(positive, positive, positive, positive))
def test_bgnbd(rows: tuple[np.ndarray, ...], params: tuple[float, ...]) -> None:
    x, tx, T, w = rows
    theta = np.array(params)
    _check(lambda th: bgnbd.log_likelihood(th, x, tx, T, w), theta)
    _repeat(bgnbd.log_likelihood(theta, x, tx, T, w)[0], bgnbd.log_likelihood, theta, (x, tx, T), w)


@settings(max_examples=40, deadline=None)
@given(rfm_rows(), st.tuples(positive, positive, positive, positive))
def test_pareto_nbd(rows: tuple[np.ndarray, ...], params: tuple[float, ...]) -> None:
    x, tx, T, w = rows
    theta = np.array(params)
    _check(lambda th: pareto_nbd.log_likelihood(th, x, tx, T, w), theta)
    _repeat(
        pareto_nbd.log_likelihood(theta, x, tx, T, w)[0],
        pareto_nbd.log_likelihood,
        theta,
        (x, tx, T),
        w,
    )


@settings(max_examples=40, deadline=None)
@given(bgbb_rows(), st.tuples(positive, positive, positive, positive))
def test_bgbb(rows: tuple[np.ndarray, ...], params: tuple[float, ...]) -> None:
    x, tx, n, w = rows
    theta = np.array(params)
    _check(lambda th: bgbb.log_likelihood(th, x, tx, n, w), theta)
    _repeat(bgbb.log_likelihood(theta, x, tx, n, w)[0], bgbb.log_likelihood, theta, (x, tx, n), w)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 30), st.floats(0.5, 500.0), st.integers(1, 4)),
        min_size=1,
        max_size=10,
    ),
    st.tuples(positive, positive, positive),
)
def test_gamma_gamma(rows: list[tuple[int, float, int]], params: tuple[float, ...]) -> None:
    x, m, w = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    theta = np.array(params)
    _check(lambda th: gamma_gamma.log_likelihood(th, x, m, w), theta)
    _repeat(
        gamma_gamma.log_likelihood(theta, x, m, w)[0], gamma_gamma.log_likelihood, theta, (x, m), w
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 300), min_size=1, max_size=10), st.tuples(positive, positive))
def test_sbg(losses: list[int], params: tuple[float, float]) -> None:
    survivors = 1000 - np.minimum(np.cumsum([0, *losses]), 1000).astype(float)
    _check(lambda th: sbg.log_likelihood(th, survivors), np.array(params))
