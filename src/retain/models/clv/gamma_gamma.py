"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005; Fader & Hardie 2013).

Each transaction's value is ``Gamma(p, nu)``, and the customer's scale ``nu ~ Gamma(q, gamma)``
varies across customers. Fitted on repeat customers' ``frequency`` (*x*) and average repeat
spend ``monetary_value`` (*m_x*). The model assumes spend is independent of how often a
customer buys; :meth:`GammaGammaModel.fit` measures the correlation and warns when it is
strong (the check the note recommends before using the model).
"""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import digamma, gammaln

from retain.errors import DataQualityWarning
from retain.i18n import t
from retain.models._base import Interval, check_is_fitted
from retain.models._mle import LogLik, wdot
from retain.models.clv._data import Checked, Rule
from retain.models.clv._purchase import ParametricModel, series

__all__ = ["GammaGammaModel", "log_likelihood"]

FloatArray = npt.NDArray[np.float64]


class _Prepared:
    """Per-distinct-frequency grouping and the logs that do not depend on the parameters."""

    def __init__(self, x: FloatArray, m: FloatArray, weight: FloatArray) -> None:
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.wx = np.bincount(self.ix, weights=weight, minlength=self.ux.size)
        self.x, self.m, self.w = x, m, weight
        self.mx = m * x
        self.w_log_m = float(wdot(weight, np.log(m)))
        self.wx_log_mx = weight * x * (np.log(m) + np.log(x))


def _evaluate(theta: FloatArray, d: _Prepared) -> tuple[float, FloatArray]:
    p, q, g = theta
    ux = d.ux
    log_gm = np.log(g + d.mx)
    pux = p * ux
    d_pq = digamma(pux + q)
    ll = (
        wdot(d.wx, (gammaln(pux + q) - gammaln(pux)))
        + d.wx.sum() * (q * np.log(g) - gammaln(q))
        - d.w_log_m
        + p * float(d.wx_log_mx.sum())
        - wdot(d.w, ((p * d.x + q) * log_gm))
    )
    g_p = (
        wdot(d.wx, (ux * (d_pq - digamma(pux))))
        + float(d.wx_log_mx.sum())
        - wdot(d.w, (d.x * log_gm))
    )
    g_q = wdot(d.wx, d_pq) - d.wx.sum() * (digamma(q) - np.log(g)) - wdot(d.w, log_gm)
    g_g = d.wx.sum() * q / g - wdot(d.w, ((p * d.x + q) / (g + d.mx)))
    return float(ll), np.array([g_p, g_q, g_g])


def log_likelihood(
    theta: FloatArray, x: FloatArray, m: FloatArray, weight: FloatArray
) -> tuple[float, FloatArray]:
    """Weighted Gamma-Gamma log-likelihood of (x, m_x) and its gradient in (p, q, gamma).

    Fader & Hardie (2013), note 025, eq. (4), for customers with ``x >= 1``:
    ``log Gamma(px+q) - log Gamma(px) - log Gamma(q) + q log gamma + (px-1) log m + px log x
    - (px+q) log(gamma + m x)``.
    """
    return _evaluate(np.asarray(theta, dtype=np.float64), _Prepared(x, m, weight))


class GammaGammaModel(ParametricModel):
    """Gamma-Gamma model of average spend per transaction.

    ``fit`` takes ``frequency`` and ``monetary_value`` (average value of the repeat purchases)
    and an optional ``weight``; rows with ``frequency == 0`` carry no spend information and
    are skipped.

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters. 0 reproduces the papers.
    correlation_threshold : float, default=0.3
        Warn (:class:`~retain.errors.DataQualityWarning`) when the absolute Pearson correlation
        between frequency and spend among repeat customers exceeds this.

    Attributes
    ----------
    params_ : dict[str, float]
        ``p``, ``q``, ``gamma`` in the papers' notation (``v`` in ``lifetimes``).
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
        Repeat customers used (sum of weights).
    n_iterations_ : int
        Optimiser iterations.
    frequency_spend_correlation_ : float
        Weighted Pearson correlation of frequency and monetary value among repeat customers;
        the model assumes it is near 0.

    References
    ----------
    .. [1] Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
           Analysis", Journal of Marketing Research 42(4), 415-430.
    .. [2] Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value",
           http://brucehardie.com/notes/025/.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "monetary_value")
    _table: ClassVar[str] = "rfm"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "penalizer": [Interval(Real, 0, None, closed="left")],
        "correlation_threshold": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, *, penalizer: float = 0.0, correlation_threshold: float = 0.3) -> None:
        self.penalizer = penalizer
        self.correlation_threshold = correlation_threshold

    def _rules(self) -> list[Rule]:
        def spend(c: dict[str, FloatArray]) -> tuple[str, str, npt.NDArray[np.bool_]]:
            return (
                "spend_not_positive",
                "monetary_value",
                (c["frequency"] > 0) & (c["monetary_value"] <= 0),
            )

        return [spend]

    def _predict_rules(self) -> list[Rule]:
        return []

    def _prepare(self, data: Checked) -> Checked:
        keep = data["frequency"] > 0
        return Checked(
            columns={k: v[keep] for k, v in data.columns.items()},
            weight=data.weight[keep],
            index=data.index[keep],
        )

    def _loglik_fn(self, data: Checked) -> LogLik:
        prepared = _Prepared(data["frequency"], data["monetary_value"], data.weight)
        return lambda theta: _evaluate(theta, prepared)

    def _after_fit(self, checked: Checked) -> None:
        """Measure the frequency/spend correlation the model assumes away, and warn if strong."""
        x, m, w = checked["frequency"], checked["monetary_value"], checked.weight
        corr = _weighted_corr(x, m, w)
        self.frequency_spend_correlation_ = corr
        if np.isfinite(corr) and abs(corr) > self.correlation_threshold:
            warnings.warn(
                t(
                    "clv.spend_correlated",
                    corr=f"{corr:.2f}",
                    threshold=f"{self.correlation_threshold:.2f}",
                ),
                DataQualityWarning,
                stacklevel=3,
            )

    def expected_average_spend(self) -> float:
        """Mean spend per transaction across customers: ``p gamma / (q - 1)``."""
        p, q, g = self._theta()
        return p * g / (q - 1)

    def expected_customer_spend(self, rfm: Any) -> pd.Series:
        """E[M | x, m_x]: expected spend per transaction of each customer (note 025, eq. 5).

        A weighted average of the population mean and the customer's own average, with weight
        ``p x / (p x + q - 1)`` on the customer's; customers without repeat purchases get the
        population mean.
        """
        p, q, g = self._theta()
        check_is_fitted(self)
        data = self._read(rfm, compress=False)
        x, m = data["frequency"], data["monetary_value"]
        out = np.where(x > 0, p * (g + m * x) / (p * x + q - 1), p * g / (q - 1))
        return series(out, data, "expected_spend")


def _weighted_corr(x: FloatArray, y: FloatArray, w: FloatArray) -> float:
    if w.sum() <= 0 or x.size < 2:
        return float("nan")
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    sx = np.sqrt(np.average((x - mx) ** 2, weights=w))
    sy = np.sqrt(np.average((y - my) ** 2, weights=w))
    if sx == 0 or sy == 0:
        return float("nan")
    return float(cov / (sx * sy))
