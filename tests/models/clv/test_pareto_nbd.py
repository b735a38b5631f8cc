"""Pareto/NBD on the CDNOW sample: Fader, Hardie & Lee (2005), Table 1 / Fader & Hardie note 009."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.special import gammaln, hyp2f1

from retain.models.clv import ParetoNBDModel
from retain.models.clv.pareto_nbd import _integral, log_likelihood


def _hypergeometric_loglik(
    theta: tuple[float, ...], x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> float:
    """The textbook form (note 009, eq. 22), valid for alpha >= beta as at the CDNOW estimates."""
    r, alpha, s, beta = theta
    big = r + s + x
    z = lambda t: (alpha - beta) / (alpha + t)  # noqa: E731
    a0 = (
        hyp2f1(big, s + 1, big + 1, z(tx)) / (alpha + tx) ** big
        - hyp2f1(big, s + 1, big + 1, z(T)) / (alpha + T) ** big
    )
    inner = 1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / big * a0
    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.log(inner)
    return float(ll.sum())


def test_cdnow_parameters(cdnow_summary: pd.DataFrame) -> None:
    """Published: r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67; LL about -9595."""
    model = ParetoNBDModel().fit(cdnow_summary)
    assert model.params_ == pytest.approx(
        {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}, abs=6e-3
    )
    assert model.log_likelihood_ == pytest.approx(-9595.0, abs=0.5)


def test_integral_form_equals_the_hypergeometric_form(cdnow_summary: pd.DataFrame) -> None:
    theta = (0.5533, 10.5776, 0.6061, 11.6654)
    x, tx, T = (cdnow_summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    ours, _ = log_likelihood(np.array(theta), x, tx, T, np.ones_like(x))
    assert ours == pytest.approx(_hypergeometric_loglik(theta, x, tx, T), rel=1e-10)


def test_stable_where_the_hypergeometric_form_is_not() -> None:
    """Heavy buyers and alpha < beta: the textbook form overflows, ours stays finite."""
    x = np.array([0.0, 150.0, 400.0])
    tx = np.array([0.0, 300.0, 700.0])
    T = np.array([700.0, 700.0, 700.0])
    value, grad = log_likelihood(np.array([2.0, 0.5, 3.0, 400.0]), x, tx, T, np.ones(3))
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))


def test_predictions(cdnow_summary: pd.DataFrame) -> None:
    """Customer 1..3 values agree with lifetimes 0.11.3's ParetoNBDFitter to 1e-4."""
    model = ParetoNBDModel().fit(cdnow_summary)
    head = cdnow_summary.head(3)
    assert model.probability_alive(head).to_numpy() == pytest.approx(
        [0.86912, 0.16786, 0.29508], abs=1e-4
    )
    assert model.conditional_expected_purchases(39, head).to_numpy() == pytest.approx(
        [1.45514, 0.17097, 0.10706], abs=1e-4
    )
    pmf = model.expected_purchases_distribution(39.0, max_purchases=400)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-8)
    assert float((pmf * pmf.index).sum()) == pytest.approx(model.expected_purchases(39.0), rel=1e-6)
    sim = model.sample_customers(200_000, T=38.86, random_state=5)
    assert sim["frequency"].mean() == pytest.approx(model.expected_purchases(38.86), rel=0.02)


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(*[st.floats(0.05, 20.0)] * 4),
    st.floats(0.5, 80.0),
    st.integers(0, 60),
    st.floats(0.0, 1.0),
)
def test_quadrature_matches_adaptive_integration(
    params: tuple[float, float, float, float], T: float, x: int, share: float
) -> None:
    """The integral of the likelihood equals scipy's adaptive quad to 1e-9, across the space."""
    r, alpha, s, beta = params
    tx = T * share if x else 0.0
    if T - tx < 1e-6:
        return
    log_i, _ = _integral(np.array(params), np.array([float(x)]), np.array([tx]), np.array([T]))
    shift = -(r + x) * np.log(alpha + tx) - (s + 1) * np.log(beta + tx)
    value, _ = quad(
        lambda tau: np.exp(-(r + x) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau) - shift),
        tx,
        T,
        epsabs=0,
        epsrel=1e-13,
        limit=500,
    )
    assert np.exp(log_i[0] - shift) == pytest.approx(value, rel=1e-9)
