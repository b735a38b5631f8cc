"""One maximum-likelihood driver for retain's statistical models.

A model supplies ``loglik(theta) -> (log_likelihood, gradient)`` on its natural (positive)
parameters, summed over the (weighted) data. :func:`maximize` optimises over ``log(theta)`` with
L-BFGS-B and the analytic gradient (chain rule: ``d/dlog(theta) = theta * d/dtheta``), then
takes the Hessian by central differences of the analytic gradient, and the standard errors from
the inverse of the observed information (the lifelines ``ParametricUnivariateFitter`` recipe).

The objective is scaled by the number of customers so the optimiser's tolerances mean the same
at 2,000 and at 10 million customers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from retain.errors import ConvergenceError, ConvergenceWarning
from retain.i18n import t

__all__ = ["LogLik", "MLEResult", "maximize", "wdot"]

FloatArray = npt.NDArray[np.float64]
LogLik = Callable[[FloatArray], tuple[float, FloatArray]]


@cache
def _threads() -> Any:
    """One controller for the process: building it scans every loaded library (~0.5 s)."""
    return ThreadpoolController()


def wdot(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Inner product of two vectors without BLAS.

    ``a @ b`` goes through a multi-threaded BLAS whose thread start-up costs milliseconds per
    call on a busy machine (measured: 8 ms for 30,000 elements against 0.02 ms here); the
    likelihoods call it dozens of times per evaluation.
    """
    return float(
        np.einsum("i,i->", np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    )


@dataclass(frozen=True)
class MLEResult:
    """The maximum-likelihood estimate and what comes with it.

    Attributes
    ----------
    x
        Estimates on the natural scale, in the model's parameter order.
    log_likelihood
        The maximised log-likelihood (without the penalty).
    hessian
        Hessian of the log-likelihood at ``x`` (natural scale).
    covariance
        ``inv(-hessian)``; NaN where the Hessian is not negative definite.
    standard_errors
        Square roots of the covariance diagonal.
    n_iterations
        Optimiser iterations.
    """

    x: FloatArray
    log_likelihood: float
    hessian: FloatArray
    covariance: FloatArray
    standard_errors: FloatArray
    n_iterations: int


def _hessian(loglik: LogLik, x: FloatArray) -> FloatArray:
    k = x.size
    hess = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(abs(float(x[j])), 1e-4)
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        hess[:, j] = (loglik(up)[1] - loglik(down)[1]) / (2 * h)
    return np.asarray(0.5 * (hess + hess.T), dtype=np.float64)


def _fail(model: str, reason: str) -> ConvergenceError:
    return ConvergenceError(
        t("clv.not_converged", model=model, reason=reason),
        hint=t("clv.not_converged_hint"),
    )


def maximize(
    loglik: LogLik,
    start: Sequence[float] | FloatArray,
    *,
    n_customers: float,
    model: str,
    penalizer: float = 0.0,
    tol: float = 1e-12,
    max_iter: int = 2000,
    bounds: Sequence[tuple[float | None, float | None]] | None = None,
) -> MLEResult:
    """Maximise ``loglik`` over positive parameters, starting from ``start``.

    Parameters
    ----------
    loglik
        ``theta -> (log-likelihood, gradient)`` on the natural scale, summed over customers.
    start
        Positive starting values.
    n_customers
        Total weight of the data; the objective is divided by it.
    model
        The estimator's name, for messages.
    penalizer
        L2 penalty on the natural parameters, ``penalizer * sum(theta**2)`` added to the mean
        negative log-likelihood (the ``lifetimes`` convention); 0 reproduces published estimates.
    tol, max_iter
        Optimiser tolerance on the scaled objective and its iteration cap.
    bounds
        Optional bounds on ``log(theta)``; by default each log-parameter lies in [-30, 30].

    Raises
    ------
    ConvergenceError
        The likelihood is not finite at the start, or the optimiser fails, with a checklist.
    """
    x0 = np.log(np.asarray(start, dtype=np.float64))
    scale = 1.0 / max(float(n_customers), 1.0)

    def objective(z: FloatArray) -> tuple[float, FloatArray]:
        theta = np.exp(z)
        value, grad = loglik(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(z)
        f = -value * scale + penalizer * float(theta @ theta)
        g = -grad * theta * scale + 2.0 * penalizer * theta * theta
        return f, g

    f0, _ = objective(x0)
    if not np.isfinite(f0):
        raise _fail(model, t("clv.reason_start_not_finite"))
    box = list(bounds) if bounds is not None else [(-30.0, 30.0)] * x0.size
    # Four parameters: BLAS threads only add start-up cost (L-BFGS-B calls BLAS each step).
    with _threads().limit(limits=1, user_api="blas"):
        res = minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=box,
            options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-9, "maxcor": 20},
        )
    theta = np.exp(res.x)
    value, grad = loglik(theta)
    if not np.isfinite(value):
        raise _fail(model, t("clv.reason_not_finite"))
    grad_scaled = np.abs(grad * theta * scale)
    if not res.success and float(np.max(grad_scaled)) > 1e-4:
        raise _fail(model, str(res.message))
    at_bound = np.isclose(res.x, [b[0] if b[0] is not None else -np.inf for b in box]) | np.isclose(
        res.x, [b[1] if b[1] is not None else np.inf for b in box]
    )
    if np.any(at_bound):
        raise _fail(model, t("clv.reason_at_bound"))
    hess = _hessian(loglik, theta)
    with np.errstate(invalid="ignore"):
        try:
            cov = np.linalg.inv(-hess)
        except np.linalg.LinAlgError:
            cov = np.full_like(hess, np.nan)
        diag = np.diag(cov)
    if not np.all(np.isfinite(diag)) or np.any(diag <= 0):
        warnings.warn(t("clv.hessian_singular", model=model), ConvergenceWarning, stacklevel=3)
        diag = np.where(diag > 0, diag, np.nan)
    return MLEResult(
        x=theta,
        log_likelihood=float(value),
        hessian=hess,
        covariance=np.asarray(cov, dtype=np.float64),
        standard_errors=np.sqrt(diag),
        n_iterations=int(res.nit),
    )
