"""Shifted-beta-geometric model of contract renewals (Fader & Hardie 2007, 2010).

Each subscriber renews at the end of every period with probability ``1 - theta`` until they
cancel; ``theta ~ Beta(alpha, beta)`` varies across subscribers. Because the customers most
likely to cancel leave first, the cohort's retention rate rises over time, which is why
straight-line or exponential curve fits under-project long-run survival (the point of
Fader & Hardie 2007). The model is fitted on a cohort's survivor counts.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betaln, digamma, hyp2f1

from retain.errors import DataValidationError, Violation
from retain.i18n import t
from retain.models._base import Interval, RetainEstimator, check_is_fitted
from retain.models._mle import maximize, wdot

__all__ = ["ShiftedBetaGeometricModel", "log_likelihood", "spell_log_likelihood"]

FloatArray = npt.NDArray[np.float64]


def log_likelihood(theta: FloatArray, survivors: FloatArray) -> tuple[float, FloatArray]:
    """SBG log-likelihood of a cohort's survivor counts and its gradient in (alpha, beta).

    ``survivors[t]`` customers are alive at the start of period ``t`` (``t = 0..n``);
    ``survivors[t-1] - survivors[t]`` cancelled in period ``t`` with probability
    ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, and ``survivors[n]`` are still
    active, with probability ``S(n) = B(alpha, beta + n) / B(alpha, beta)`` (Fader & Hardie 2007,
    eqs. 3-5 and appendix B).
    """
    alpha, beta = theta
    n = survivors.size - 1
    periods = np.arange(1, n + 1, dtype=np.float64)
    lost = survivors[:-1] - survivors[1:]
    log_p = betaln(alpha + 1, beta + periods - 1) - betaln(alpha, beta)
    log_s = betaln(alpha, beta + n) - betaln(alpha, beta)
    ll = float(wdot(lost, log_p) + survivors[-1] * log_s)
    d_ab = digamma(alpha + beta)
    dp_alpha = digamma(alpha + 1) - digamma(alpha + beta + periods) - digamma(alpha) + d_ab
    dp_beta = digamma(beta + periods - 1) - digamma(alpha + beta + periods) - digamma(beta) + d_ab
    ds_alpha = -digamma(alpha + beta + n) + d_ab
    ds_beta = digamma(beta + n) - digamma(alpha + beta + n) - digamma(beta) + d_ab
    grad = np.array(
        [
            wdot(lost, dp_alpha) + survivors[-1] * ds_alpha,
            wdot(lost, dp_beta) + survivors[-1] * ds_beta,
        ]
    )
    return ll, grad


def spell_log_likelihood(
    theta: FloatArray,
    periods: FloatArray,
    ended: FloatArray,
    entered: FloatArray,
    weight: FloatArray,
) -> tuple[float, FloatArray]:
    """SBG log-likelihood of individual subscriptions and its gradient in (alpha, beta).

    A subscription that ``ended`` after paying ``periods`` periods contributes ``P(T = periods)``;
    one still active after ``periods`` renewals contributes ``S(periods)``. Each is divided by
    ``S(entered)``: a subscription first seen after ``entered`` renewals (the data start later
    than the contract, as in a snapshot) is known to have survived them, which is left
    truncation. ``entered = 0`` everywhere reproduces the cohort likelihood.
    """
    alpha, beta = theta
    t_end = np.maximum(periods, 1.0)
    lead = np.where(ended > 0, alpha + 1, alpha)
    tail = np.where(ended > 0, beta + t_end - 1, beta + periods)
    top = np.where(ended > 0, t_end, periods)
    ll = float(wdot(weight, betaln(lead, tail) - betaln(alpha, beta + entered)))
    d_top = digamma(alpha + beta + top)
    d_in = digamma(alpha + beta + entered)
    g_alpha = np.where(ended > 0, digamma(alpha + 1), digamma(alpha)) - d_top
    g_alpha -= digamma(alpha) - d_in
    g_beta = digamma(tail) - d_top - (digamma(beta + entered) - d_in)
    return ll, np.array([wdot(weight, g_alpha), wdot(weight, g_beta)])


def _check_survivors(survivors: Any) -> FloatArray:
    values = np.asarray(
        survivors.to_numpy() if hasattr(survivors, "to_numpy") else survivors, dtype=np.float64
    ).ravel()
    problems: list[Violation] = []

    def bad(rule: str, row: int | None, value: Any) -> None:
        problems.append(
            Violation(
                rule=rule,
                message=t(f"clv.rule_{rule}", column="survivors", value=value),
                file="survivors",
                row=row,
                column="survivors",
                value=value,
                hint=t(f"clv.rule_{rule}_hint"),
            )
        )

    if values.size < 2:
        bad("too_few_periods", None, int(values.size))
    for i, v in enumerate(values):
        if not np.isfinite(v):
            bad("not_finite", i, v)
        elif v < 0:
            bad("negative", i, v)
        elif v != round(v):
            bad("not_integer", i, v)
        elif i and v > values[i - 1]:
            bad("survivors_increase", i, v)
    if values.size and np.isfinite(values[0]) and values[0] <= 0:
        bad("weight_not_positive", 0, values[0])
    if problems:
        raise DataValidationError(problems)
    return values


class ShiftedBetaGeometricModel(RetainEstimator):
    """sBG model of a subscription cohort's survival and retention.

    ``fit(survivors)`` takes the number of customers still active at the start of each period
    (period 0 first: the cohort's size), as a list, array or Series.

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters. 0 reproduces the papers.

    Attributes
    ----------
    params_ : dict[str, float]
        ``alpha`` and ``beta`` of the beta distribution of cancellation probabilities.
    standard_errors_ : dict[str, float]
        Standard errors from the inverse observed information (Hessian).
    log_likelihood_ : float
        The maximised log-likelihood.
    aic_ : float
        Akaike information criterion.
    bic_ : float
        Bayesian information criterion.
    n_customers_ : int
        Size of the cohort (``survivors[0]``).
    n_periods_ : int
        Periods observed.

    References
    ----------
    .. [1] Fader & Hardie (2007), "How to Project Customer Retention", Journal of Interactive
           Marketing 21(1), 76-90.
    .. [2] Fader & Hardie (2010), "Customer-Base Valuation in a Contractual Setting: The Perils
           of Ignoring Heterogeneity", Marketing Science 29(1), 85-93.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "penalizer": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, survivors: Any) -> Self:
        """Fit on survivor counts per period (period 0 = cohort size).

        Returns
        -------
        self
            The fitted estimator.
        """
        self._validate_params()
        values = _check_survivors(survivors)
        result = maximize(
            lambda theta: log_likelihood(theta, values),
            np.ones(2),
            n_customers=float(values[0]),
            model=type(self).__name__,
            penalizer=float(self.penalizer),
        )
        self.params_ = {"alpha": float(result.x[0]), "beta": float(result.x[1])}
        self.standard_errors_ = {
            "alpha": float(result.standard_errors[0]),
            "beta": float(result.standard_errors[1]),
        }
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = int(values[0])
        self.n_periods_ = int(values.size - 1)
        self.aic_ = 4 - 2 * result.log_likelihood
        self.bic_ = 2 * float(np.log(values[0])) - 2 * result.log_likelihood
        return self

    def fit_spells(
        self, periods: Any, ended: Any, *, entered: Any = None, weight: Any = None
    ) -> Self:
        """Fit on individual subscriptions of different ages (:func:`spell_log_likelihood`).

        ``periods`` are the periods paid by an ended subscription or the renewals survived by
        an active one; ``ended`` says which; ``entered`` the renewals a subscription had already
        survived when the data begin (default 0); ``weight`` repeats a row (default 1).
        """
        self._validate_params()
        n = np.asarray(periods, dtype=np.float64).ravel()
        gone = np.asarray(ended, dtype=np.float64).ravel()
        start = np.zeros_like(n) if entered is None else np.asarray(entered, dtype=np.float64)
        w = np.ones_like(n) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
        start = np.minimum(start.ravel(), np.where(gone > 0, np.maximum(n, 1.0) - 1, n))
        if n.size == 0 or not np.all(np.isfinite(n)) or np.any(n < 0) or float(w.sum()) <= 0:
            _check_survivors(np.array([]))
        result = maximize(
            lambda theta: spell_log_likelihood(theta, n, gone, start, w),
            np.ones(2),
            n_customers=float(w.sum()),
            model=type(self).__name__,
            penalizer=float(self.penalizer),
        )
        self.params_ = {"alpha": float(result.x[0]), "beta": float(result.x[1])}
        self.standard_errors_ = {
            "alpha": float(result.standard_errors[0]),
            "beta": float(result.standard_errors[1]),
        }
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = round(float(w.sum()))
        self.n_periods_ = int(np.max(n)) if n.size else 0
        self.aic_ = 4 - 2 * result.log_likelihood
        self.bic_ = 2 * float(np.log(max(float(w.sum()), 1.0))) - 2 * result.log_likelihood
        return self

    def _ab(self) -> tuple[float, float]:
        check_is_fitted(self)
        return self.params_["alpha"], self.params_["beta"]

    def survival_function(self, t: Any) -> Any:
        """S(t) = B(alpha, beta + t) / B(alpha, beta): share of a cohort active after t periods."""
        alpha, beta = self._ab()
        t = np.asarray(t, dtype=np.float64)
        out = np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))
        return float(out) if out.ndim == 0 else out

    def churn_probability(self, t: Any) -> Any:
        """P(T = t): probability that a new customer cancels in period ``t`` (t >= 1)."""
        alpha, beta = self._ab()
        t = np.asarray(t, dtype=np.float64)
        out = np.exp(betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta))
        return float(out) if out.ndim == 0 else out

    def expected_retention_rate(self, t: Any) -> Any:
        """r(t) = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1), for t >= 1."""
        alpha, beta = self._ab()
        t = np.asarray(t, dtype=np.float64)
        out = (beta + t - 1) / (alpha + beta + t - 1)
        return float(out) if out.ndim == 0 else out

    def expected_survivors(self, periods: Any, *, cohort_size: float | None = None) -> pd.Series:
        """Projected number of customers active at the start of each of ``periods``."""
        check_is_fitted(self)
        size = float(self.n_customers_ if cohort_size is None else cohort_size)
        p = np.atleast_1d(np.asarray(periods, dtype=np.float64))
        return pd.Series(
            size * np.asarray(self.survival_function(p)),
            index=pd.Index(p.astype(int), name="period"),
            name="survivors",
        )

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL: sum over t >= 0 of S(t) / (1 + d)^t, for a customer at the start of the contract.

        ``2F1(1, beta; alpha + beta; 1/(1+d))`` (Fader & Hardie 2010, eq. 5); multiply by the
        margin per period for the expected CLV of a new customer (payment at the start of each
        period).
        """
        alpha, beta = self._ab()
        _check_rate(discount_rate)
        return float(hyp2f1(1.0, beta, alpha + beta, 1.0 / (1.0 + discount_rate)))

    def discounted_expected_residual_lifetime(self, renewals: Any, discount_rate: float) -> Any:
        """DERL of a customer who has made ``renewals`` renewals (is in period ``renewals + 1``).

        ``(beta + n) / (alpha + beta + n) * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1/(1+d))``
        with ``n = renewals`` (Fader & Hardie 2010, eq. 6): the expected number of future
        payments, the next one undiscounted, each later one discounted by ``1 + d`` per period.
        Multiply by the margin per period for the residual value of an active subscriber.
        """
        alpha, beta = self._ab()
        _check_rate(discount_rate)
        n = np.asarray(renewals, dtype=np.float64)
        out = (
            (beta + n)
            / (alpha + beta + n)
            * hyp2f1(1.0, beta + n + 1, alpha + beta + n + 1, 1.0 / (1.0 + discount_rate))
        )
        return float(out) if out.ndim == 0 else out


def _check_rate(discount_rate: float) -> None:
    if not (isinstance(discount_rate, Real) and discount_rate > 0):
        from retain.errors import InvalidParameterError

        raise InvalidParameterError(
            t("clv.discount_rate_invalid", value=repr(discount_rate)),
            hint=t("clv.discount_rate_invalid_hint"),
        )
