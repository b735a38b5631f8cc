"""BG/BB: the beta-geometric / beta-Bernoulli model for discrete opportunities.

Fader, Hardie & Shang (2010).

At each of ``n`` opportunities (years of a donation drive, issues of a magazine, weekly
events) an alive customer transacts with probability ``p ~ Beta(alpha, beta)``; before each
opportunity they may become inactive for good with probability ``theta ~ Beta(gamma, delta)``.
A customer is summarised by ``frequency`` (transactions after the first opportunity, *x*),
``recency`` (the opportunity of the last transaction, *t_x*, 0 when none) and ``n_periods``
(the opportunities observed, *n*).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betaln, digamma, gammaln, logsumexp

from retain.models._base import check_is_fitted
from retain.models._mle import LogLik, wdot
from retain.models.clv._data import Checked, Rule
from retain.models.clv._purchase import ParametricModel, series

__all__ = ["BetaGeoBetaBinomModel", "log_likelihood"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _log_terms(
    theta: FloatArray, x: FloatArray, tx: FloatArray, n: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """Log of each term of eq. (5): 'alive through n', and 'inactive after t_x + i' for each i."""
    alpha, beta, gamma, delta = theta
    base = -betaln(alpha, beta) - betaln(gamma, delta)
    main = betaln(alpha + x, beta + n - x) + betaln(gamma, delta + n) + base
    width = max(int(np.max(n - tx)) if n.size else 0, 1)
    i = np.arange(width, dtype=np.float64)[None, :]
    mask = i < (n - tx)[:, None]
    others = np.where(
        mask,
        betaln(alpha + x[:, None], beta + tx[:, None] - x[:, None] + i)
        + betaln(gamma + 1, delta + tx[:, None] + i)
        + base,
        -np.inf,
    )
    return main, others, i, mask


def log_likelihood(
    theta: FloatArray, x: FloatArray, tx: FloatArray, n: FloatArray, weight: FloatArray
) -> tuple[float, FloatArray]:
    """Weighted BG/BB log-likelihood (FHS 2010, eq. 5) and its gradient in the four parameters."""
    alpha, beta, gamma, delta = theta
    main, others, i, mask = _log_terms(theta, x, tx, n)
    lse = np.logaddexp(main, logsumexp(others, axis=1))
    w0 = np.exp(main - lse)
    wi = np.where(mask, np.exp(others - lse[:, None]), 0.0)
    d_ab, d_gd = digamma(alpha + beta), digamma(gamma + delta)
    d_ax = digamma(alpha + x) - digamma(alpha) + d_ab
    m = tx[:, None] + i
    g_alpha = d_ax - w0 * digamma(alpha + beta + n) - np.sum(wi * digamma(alpha + beta + m), axis=1)
    g_beta = (
        w0 * digamma(beta + n - x)
        + np.sum(wi * digamma(beta + m - x[:, None]), axis=1)
        - digamma(beta)
        + d_ab
        - w0 * digamma(alpha + beta + n)
        - np.sum(wi * digamma(alpha + beta + m), axis=1)
    )
    g_gamma = (
        d_gd
        - w0 * digamma(gamma + delta + n)
        + np.sum(
            wi * (digamma(gamma + 1) - digamma(gamma) - digamma(gamma + delta + m + 1)), axis=1
        )
    )
    g_delta = (
        d_gd
        - digamma(delta)
        + w0 * (digamma(delta + n) - digamma(gamma + delta + n))
        + np.sum(wi * (digamma(delta + m) - digamma(gamma + delta + m + 1)), axis=1)
    )
    grad = np.array(
        [wdot(weight, g_alpha), wdot(weight, g_beta), wdot(weight, g_gamma), wdot(weight, g_delta)]
    )
    return float(wdot(weight, lse)), grad


def _bgbb_rules() -> list[Rule]:
    def after_n(c: dict[str, FloatArray]) -> tuple[str, str, BoolArray]:
        return "recency_after_T", "recency", c["recency"] > c["n_periods"]

    def more_than_recency(c: dict[str, FloatArray]) -> tuple[str, str, BoolArray]:
        return "frequency_after_recency", "frequency", c["frequency"] > c["recency"]

    def without_repeat(c: dict[str, FloatArray]) -> tuple[str, str, BoolArray]:
        return "recency_without_repeat", "recency", (c["frequency"] == 0) & (c["recency"] != 0)

    return [after_n, more_than_recency, without_repeat]


class BetaGeoBetaBinomModel(ParametricModel):
    """BG/BB model for customers who can transact once per discrete opportunity.

    ``fit`` takes ``frequency``, ``recency`` and ``n_periods`` (*x*, *t_x*, *n* in Fader,
    Hardie & Shang 2010), whole numbers, and an optional ``weight``.

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters. 0 reproduces the papers.

    Attributes
    ----------
    params_ : dict[str, float]
        ``alpha``, ``beta`` (transaction probability) and ``gamma``, ``delta`` (dropout).
    standard_errors_ : dict[str, float]
        Standard errors from the inverse observed information (Hessian).
    covariance_ : pandas.DataFrame
        Covariance matrix of the estimates.
    log_likelihood_ : float
        The maximised log-likelihood.
    aic_ : float
        Akaike information criterion.
    bic_ : float
        Bayesian information criterion.
    n_customers_ : int
        Customers in the data (sum of weights).
    n_iterations_ : int
        Optimiser iterations.

    References
    ----------
    .. [1] Fader, Hardie & Shang (2010), "Customer-Base Analysis in a Discrete-Time
           Noncontractual Setting", Marketing Science 29(6), 1086-1108.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "n_periods")
    _integer: ClassVar[tuple[str, ...]] = ("frequency", "recency", "n_periods")

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def _rules(self) -> Sequence[Rule]:
        return _bgbb_rules()

    def _loglik_fn(self, data: Checked) -> LogLik:
        x, tx, n, w = data["frequency"], data["recency"], data["n_periods"], data.weight
        return lambda theta: log_likelihood(theta, x, tx, n, w)

    def expected_purchases(self, n: Any) -> Any:
        """E[X(n)]: expected transactions of a new customer in the first ``n`` opportunities."""
        alpha, beta, gamma, delta = self._theta()
        n = np.asarray(n, dtype=np.float64)
        ratio = np.exp(
            gammaln(gamma + delta)
            - gammaln(gamma + delta + n)
            + gammaln(1 + delta + n)
            - gammaln(1 + delta)
        )
        out = alpha / (alpha + beta) * delta / (gamma - 1) * (1 - ratio)
        return float(out) if out.ndim == 0 else out

    def _likelihood(self, data: Checked) -> FloatArray:
        theta = np.array(self._theta())
        main, others, _, _ = _log_terms(
            theta, data["frequency"], data["recency"], data["n_periods"]
        )
        return np.asarray(np.logaddexp(main, logsumexp(others, axis=1)))

    def probability_alive(self, rfm: Any, *, future: int = 1) -> pd.Series:
        """P(alive at opportunity ``n + future``) given (x, t_x, n) (FHS 2010, eq. 11)."""
        alpha, beta, gamma, delta = self._theta()
        data = self._per_customer(rfm)
        x, n = data["frequency"], data["n_periods"]
        log_num = (
            betaln(alpha + x, beta + n - x)
            - betaln(alpha, beta)
            + betaln(gamma, delta + n + future)
            - betaln(gamma, delta)
        )
        return series(np.exp(log_num - self._likelihood(data)), data, "probability_alive")

    def conditional_expected_purchases(self, t: int, rfm: Any) -> pd.Series:
        """E[X(n, n + t) | x, t_x, n]: transactions in the next ``t`` opportunities (eq. 13)."""
        alpha, beta, gamma, delta = self._theta()
        data = self._per_customer(rfm)
        x, n = data["frequency"], data["n_periods"]
        log_head = (
            betaln(alpha + x + 1, beta + n - x) - betaln(alpha, beta) - self._likelihood(data)
        )
        g_now = np.exp(gammaln(1 + delta + n) - gammaln(gamma + delta + n))
        g_later = np.exp(gammaln(1 + delta + n + t) - gammaln(gamma + delta + n + t))
        scale = delta / (gamma - 1) * np.exp(gammaln(gamma + delta) - gammaln(1 + delta))
        out = np.exp(log_head) * scale * (g_now - g_later)
        return series(out, data, "conditional_expected_purchases")

    def expected_purchases_distribution(self, n: int) -> pd.Series:
        """P(X(n) = x) for x = 0..n, a new customer (FHS 2010, eq. 8)."""
        alpha, beta, gamma, delta = self._theta()
        xs = np.arange(n + 1, dtype=np.float64)
        base = -betaln(alpha, beta) - betaln(gamma, delta)

        def log_choose(a: Any, b: Any) -> Any:
            return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

        first = log_choose(n, xs) + betaln(alpha + xs, beta + n - xs) + betaln(gamma, delta + n)
        i = np.arange(n, dtype=np.float64)[None, :]
        x2 = xs[:, None]
        with np.errstate(invalid="ignore"):
            rest = np.where(
                i >= x2,
                log_choose(i, x2)
                + betaln(alpha + x2, beta + i - x2)
                + betaln(gamma + 1, delta + i),
                -np.inf,
            )
        total = np.logaddexp(first, logsumexp(rest, axis=1) if n else -np.inf) + base
        return pd.Series(
            np.exp(total), index=pd.Index(xs.astype(int), name="purchases"), name="probability"
        )

    def sample_customers(
        self, n_customers: int, *, n_periods: int, random_state: int | None = None
    ) -> pd.DataFrame:
        """Simulate customers over ``n_periods`` opportunities: frequency, recency, n_periods."""
        check_is_fitted(self)
        rng = np.random.default_rng(random_state)
        p = rng.beta(self.params_["alpha"], self.params_["beta"], n_customers)
        theta = rng.beta(self.params_["gamma"], self.params_["delta"], n_customers)
        alive = np.ones(n_customers, dtype=bool)
        freq = np.zeros(n_customers)
        rec = np.zeros(n_customers)
        for period in range(1, n_periods + 1):
            alive &= rng.random(n_customers) >= theta
            buy = alive & (rng.random(n_customers) < p)
            freq += buy
            rec[buy] = period
        return pd.DataFrame(
            {"frequency": freq, "recency": rec, "n_periods": float(n_periods), "alive": alive}
        )
