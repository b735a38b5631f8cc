"""BG/NBD: the beta-geometric / negative-binomial model of repeat buying (Fader, Hardie & Lee 2005).

While alive, a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each purchase
they drop out with probability ``p ~ Beta(a, b)``. The model needs, per customer, ``frequency``
(repeat purchases, *x*), ``recency`` (age at the last purchase, *t_x*) and ``T`` (age at the end
of the window, *T*), all in one time unit.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betaln, digamma, gammaln, hyp2f1

from retain.models._base import check_is_fitted
from retain.models._mle import LogLik, wdot
from retain.models.clv._data import Checked
from retain.models.clv._purchase import ParametricModel, series

__all__ = ["BetaGeoModel", "log_likelihood"]

FloatArray = npt.NDArray[np.float64]


class _Prepared:
    """The data arranged for fast repeated evaluation.

    Terms that depend only on the frequency (gammaln, betaln, digamma) are evaluated once per
    distinct frequency, and time terms once per distinct T and t_x; per-row work is a handful of
    array operations. This is what makes a fit on 10 million customers take about a second.
    """

    def __init__(self, x: FloatArray, tx: FloatArray, T: FloatArray, weight: FloatArray) -> None:
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.uT, self.iT = np.unique(T, return_inverse=True)
        self.utx, self.itx = np.unique(tx, return_inverse=True)
        self.x, self.w = x, weight
        self.rep = x > 0
        self.wx = np.bincount(self.ix, weights=weight, minlength=self.ux.size)
        self.uxs = np.where(self.ux > 0, self.ux, 1.0)  # keeps b + x - 1 > 0 where unused


def _evaluate(theta: FloatArray, d: _Prepared) -> tuple[float, FloatArray]:
    r, alpha, a, b = theta
    ux, ix, w, x = d.ux, d.ix, d.w, d.x
    lb = betaln(a, b + ux) - betaln(a, b)
    la_T = np.log(alpha + d.uT)
    la_tx = np.log(alpha + d.utx)
    u1 = lb[ix] - (r + x) * la_T[d.iT]
    odds = (np.log(a) - np.log(b + d.uxs - 1))[ix]
    u2 = np.where(d.rep, lb[ix] + odds - (r + x) * la_tx[d.itx], -np.inf)
    lse = np.logaddexp(u1, u2)
    w2 = np.exp(u2 - lse)  # 0 where there is no second term
    w1 = 1.0 - w2
    common = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
    ll = float(wdot(d.wx, common) + wdot(w, lse))
    d_ab = digamma(a + b)
    d_abx = digamma(a + b + ux)
    g_r = wdot(d.wx, (digamma(r + ux) - digamma(r) + np.log(alpha))) - wdot(
        w, (w1 * la_T[d.iT] + w2 * la_tx[d.itx])
    )
    g_alpha = r / alpha * d.wx.sum() - wdot(
        w, ((r + x) * (w1 / (alpha + d.uT)[d.iT] + w2 / (alpha + d.utx)[d.itx]))
    )
    ww2 = wdot(w, w2)
    g_a = wdot(d.wx, (d_ab - d_abx)) + ww2 / a
    g_b = wdot(d.wx, (digamma(b + ux) - digamma(b) + d_ab - d_abx)) - wdot(
        w, (w2 / (b + d.uxs - 1)[ix])
    )
    return ll, np.array([g_r, g_alpha, g_a, g_b])


def log_likelihood(
    theta: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray, weight: FloatArray
) -> tuple[float, FloatArray]:
    """Weighted BG/NBD log-likelihood and its analytic gradient in ``(r, alpha, a, b)``.

    Equation (6) of Fader, Hardie & Lee (2005), written as
    ``log Gamma(r+x) - log Gamma(r) + r log alpha + logaddexp(u1, u2)`` so that no term
    overflows: ``u1 = log B(a, b+x) - log B(a, b) - (r+x) log(alpha+T)`` and, for repeat buyers,
    ``u2 = log B(a+1, b+x-1) - log B(a, b) - (r+x) log(alpha+t_x)``.
    """
    return _evaluate(np.asarray(theta, dtype=np.float64), _Prepared(x, tx, T, weight))


class BetaGeoModel(ParametricModel):
    """BG/NBD model of repeat buying for non-contractual customers.

    ``fit`` takes a pandas or polars DataFrame, or an Ibis table, with ``frequency``,
    ``recency`` and ``T`` (*x*, *t_x* and *T* in Fader, Hardie & Lee 2005) and an optional
    ``weight`` (customers sharing the row). Ibis tables are compressed in the engine first.

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters (``lifetimes`` convention). 0 reproduces the papers.

    Attributes
    ----------
    params_ : dict[str, float]
        ``r``, ``alpha``, ``a``, ``b`` in the paper's notation.
    standard_errors_ : dict[str, float]
        Standard errors from the inverse observed information (Hessian).
    covariance_ : pandas.DataFrame
        Covariance matrix of the estimates.
    log_likelihood_ : float
        The maximised log-likelihood.
    aic_ : float
        Akaike information criterion, ``2k - 2 LL``.
    bic_ : float
        Bayesian information criterion, ``k log(N) - 2 LL``.
    n_customers_ : int
        Customers in the data (sum of weights).
    n_iterations_ : int
        Optimiser iterations.

    References
    ----------
    .. [1] Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to
           the Pareto/NBD Model", Marketing Science 24(2), 275-284.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def _start(self, data: Checked) -> FloatArray:
        x, T = data["frequency"], data["T"]
        rate = float(wdot(data.weight, x)) / max(float(wdot(data.weight, T)), 1e-9)
        return np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0])

    def _loglik_fn(self, data: Checked) -> LogLik:
        prepared = _Prepared(data["frequency"], data["recency"], data["T"], data.weight)
        return lambda theta: _evaluate(theta, prepared)

    def expected_purchases(self, t: Any) -> Any:
        """E[X(t)]: expected purchases of a new customer in ``(0, t]`` (FHL 2005, eq. 7)."""
        r, alpha, a, b = self._theta()
        t = np.asarray(t, dtype=np.float64)
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        out = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)
        return float(out) if out.ndim == 0 else out

    def conditional_expected_purchases(self, t: float, rfm: Any) -> pd.Series:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` units (FHL 2005, eq. 10)."""
        r, alpha, a, b = self._theta()
        data = self._per_customer(rfm)
        x, tx, T = data["frequency"], data["recency"], data["T"]
        head = (a + b + x - 1) / (a - 1)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        body = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
        out = head * body * self._alive(x, tx, T)
        return series(out, data, "conditional_expected_purchases")

    def _alive(self, x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = self._theta()
        xs = np.where(x > 0, x, 1.0)
        log_odds = (
            np.log(a) - np.log(b + xs - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_odds)), 1.0)

    def probability_alive(self, rfm: Any) -> pd.Series:
        """P(alive at T | x, t_x, T) (note 021, eq. 1); 1 for customers who never repeated."""
        data = self._per_customer(rfm)
        return series(
            self._alive(data["frequency"], data["recency"], data["T"]), data, "probability_alive"
        )

    def probability_of_purchase(self, t: float, rfm: Any) -> pd.Series:
        """P(at least one purchase in ``(T, T+t]`` | x, t_x, T).

        A customer who has dropped out buys nothing; one alive at T cannot drop out before the
        next purchase (BG/NBD drops out only right after a purchase), and alive at T their
        rate has the gamma posterior ``lambda ~ Gamma(r+x, alpha+T)`` (the ``(1-p)^x`` factor
        of the alive branch does not involve lambda). So
        ``P(none | alive) = ((alpha+T) / (alpha+T+t))^(r+x)`` and the answer is
        ``P(alive) * (1 - P(none | alive))``.
        """
        r, alpha, _, _ = self._theta()
        data = self._per_customer(rfm)
        x, tx, T = data["frequency"], data["recency"], data["T"]
        buys_if_alive = -np.expm1(-(r + x) * np.log1p(float(t) / (alpha + T)))
        return series(self._alive(x, tx, T) * buys_if_alive, data, "probability_of_purchase")

    def median_time_to_next_purchase(self, rfm: Any) -> pd.Series:
        """Median time from T to the next purchase of a customer alive at T, in rfm's unit.

        The waiting time given alive is gamma-mixed exponential (Lomax) with shape ``r+x`` and
        scale ``alpha+T``; solving ``((alpha+T) / (alpha+T+m))^(r+x) = 1/2`` gives
        ``m = (alpha+T) (2^(1/(r+x)) - 1)``.
        """
        r, alpha, _, _ = self._theta()
        data = self._per_customer(rfm)
        x, T = data["frequency"], data["T"]
        m = (alpha + T) * np.expm1(np.log(2.0) / (r + x))
        return series(m, data, "median_time_to_next_purchase")

    def expected_purchases_distribution(self, t: float, *, max_purchases: int = 10) -> pd.Series:
        """P(X(t) = x) for x = 0..max_purchases, a new customer (FHL 2005, eq. 8)."""
        r, alpha, a, b = self._theta()
        x = np.arange(max_purchases + 1, dtype=np.float64)
        q = t / (alpha + t)
        log_nb = (
            gammaln(r + x)
            - gammaln(r)
            - gammaln(x + 1)
            + r * np.log(alpha / (alpha + t))
            + (x * np.log(q) if t > 0 else np.where(x == 0, 0.0, -np.inf))
        )
        first = np.exp(betaln(a, b + x) - betaln(a, b) + log_nb)
        cdf_before = np.concatenate([[0.0], np.cumsum(np.exp(log_nb))[:-1]])
        xs = np.where(x > 0, x, 1.0)
        second = np.where(
            x > 0, np.exp(betaln(a + 1, b + xs - 1) - betaln(a, b)) * (1 - cdf_before), 0.0
        )
        return pd.Series(
            first + second, index=pd.Index(x.astype(int), name="purchases"), name="probability"
        )

    def sample_customers(
        self, n_customers: int, *, T: float | FloatArray, random_state: int | None = None
    ) -> pd.DataFrame:
        """Simulate ``n_customers`` from the fitted model, observed for ``T`` time units.

        Returns a frame with ``frequency``, ``recency``, ``T`` and the latent ``alive`` flag.
        """
        check_is_fitted(self)
        return simulate(self.params_, n_customers, T=T, random_state=random_state)


def simulate(
    params: dict[str, float],
    n_customers: int,
    *,
    T: float | FloatArray,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Draw BG/NBD customers: ``frequency``, ``recency``, ``T`` (and ``alive`` at ``T``)."""
    rng = np.random.default_rng(random_state)
    ages = np.broadcast_to(np.asarray(T, dtype=np.float64), (n_customers,)).copy()
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n_customers)
    p = rng.beta(params["a"], params["b"], n_customers)
    freq = np.zeros(n_customers)
    rec = np.zeros(n_customers)
    now = np.zeros(n_customers)
    active = np.arange(n_customers)
    alive = np.ones(n_customers, dtype=bool)
    while active.size:
        gap = rng.exponential(1.0, active.size) / lam[active]
        when = now[active] + gap
        bought = when <= ages[active]
        done = active[~bought]
        active = active[bought]
        when = when[bought]
        freq[active] += 1
        rec[active] = when
        now[active] = when
        died = rng.random(active.size) < p[active]
        alive[active[died]] = False
        active = active[~died]
        del done
    return pd.DataFrame({"frequency": freq, "recency": rec, "T": ages, "alive": alive})
