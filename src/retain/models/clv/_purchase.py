"""What the purchase models (BG/NBD, Pareto/NBD, BG/BB) share.

Fit on compressed summaries, information criteria, and per-customer prediction plumbing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from numbers import Real
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from retain.errors import ConvergenceError
from retain.i18n import t
from retain.models._base import Interval, RetainEstimator, check_is_fitted
from retain.models._mle import LogLik, MLEResult, maximize
from retain.models.clv._data import Checked, Rule, read_input

__all__ = ["ParametricModel", "rfm_rules"]

FloatArray = npt.NDArray[np.float64]


def rfm_rules(recency: str = "recency", age: str = "T") -> list[Rule]:
    """Rules every (frequency, recency, T)-style summary obeys."""

    def after_age(c: dict[str, FloatArray]) -> tuple[str, str, npt.NDArray[np.bool_]]:
        return "recency_after_T", recency, c[recency] > c[age] * (1 + 1e-9) + 1e-9

    def without_repeat(c: dict[str, FloatArray]) -> tuple[str, str, npt.NDArray[np.bool_]]:
        return "recency_without_repeat", recency, (c["frequency"] == 0) & (c[recency] != 0)

    return [after_age, without_repeat]


class ParametricModel(RetainEstimator, ABC):
    """A model fitted by maximum likelihood on a (weighted, compressed) summary table.

    Subclasses define the class attributes below and ``_loglik(theta, data)``.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _columns: ClassVar[tuple[str, ...]] = ()
    _table: ClassVar[str] = "rfm"
    _nonnegative: ClassVar[tuple[str, ...]] = ()
    _integer: ClassVar[tuple[str, ...]] = ("frequency",)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "penalizer": [Interval(Real, 0, None, closed="left")],
    }

    penalizer: float

    def _rules(self) -> Sequence[Rule]:
        return rfm_rules()

    def _predict_rules(self) -> Sequence[Rule]:
        return self._rules()

    def _read(self, data: Any, *, compress: bool) -> Checked:
        return read_input(
            data,
            columns=self._columns,
            table=self._table,
            compress=compress,
            rules=self._rules() if compress else self._predict_rules(),
            nonnegative=self._nonnegative or self._columns,
            integer=self._integer,
        )

    def _start(self, data: Checked) -> FloatArray:  # noqa: ARG002
        return np.ones(len(self._param_names))

    @abstractmethod
    def _loglik_fn(self, data: Checked) -> LogLik:
        """The model's log-likelihood (and gradient) over ``data``; each model defines it."""

    def _prepare(self, data: Checked) -> Checked:
        return data

    def fit(self, data: Any) -> Self:
        """Fit by maximum likelihood on ``data`` (a frame or an Ibis table, optional ``weight``).

        Returns
        -------
        self
            The fitted estimator.
        """
        self._validate_params()
        checked = self._prepare(self._read(data, compress=True))
        reason = None
        if checked.n_customers <= 0:
            reason = t("clv.reason_empty")
        elif not np.any(checked["frequency"] > 0):
            reason = t("clv.reason_no_repeat")
        if reason is not None:
            raise ConvergenceError(
                t("clv.not_converged", model=type(self).__name__, reason=reason),
                hint=t("clv.not_converged_hint"),
            )
        result = maximize(
            self._loglik_fn(checked),
            self._start(checked),
            n_customers=checked.n_customers,
            model=type(self).__name__,
            penalizer=float(self.penalizer),
        )
        self._store(result, checked)
        self._after_fit(checked)
        return self

    def _store(self, result: MLEResult, checked: Checked) -> None:
        names = self._param_names
        self.params_ = {n: float(v) for n, v in zip(names, result.x, strict=True)}
        self.standard_errors_ = {
            n: float(v) for n, v in zip(names, result.standard_errors, strict=True)
        }
        self.covariance_ = pd.DataFrame(result.covariance, index=list(names), columns=list(names))
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = round(checked.n_customers)
        self.n_iterations_ = result.n_iterations
        k = len(names)
        self.aic_ = 2 * k - 2 * result.log_likelihood
        self.bic_ = k * float(np.log(checked.n_customers)) - 2 * result.log_likelihood

    def _after_fit(self, checked: Checked) -> None:
        """Checks a model runs on its training data after the fit (none by default)."""

    def confidence_intervals(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals ``estimate +/- z * se`` for each parameter (columns lower, upper)."""
        from scipy.stats import norm

        check_is_fitted(self)
        z = float(norm.ppf(0.5 + level / 2))
        rows = {
            n: (v - z * self.standard_errors_[n], v + z * self.standard_errors_[n])
            for n, v in self.params_.items()
        }
        return pd.DataFrame.from_dict(rows, orient="index", columns=["lower", "upper"])

    def log_likelihood(self, data: Any, params: dict[str, float] | None = None) -> float:
        """The log-likelihood of ``data`` at ``params`` (default: the fitted ones)."""
        if params is None:
            check_is_fitted(self)
            params = self.params_
        checked = self._prepare(self._read(data, compress=True))
        theta = np.array([params[n] for n in self._param_names], dtype=np.float64)
        return float(self._loglik_fn(checked)(theta)[0])

    def _theta(self) -> tuple[float, ...]:
        check_is_fitted(self)
        return tuple(self.params_[n] for n in self._param_names)

    def _per_customer(self, data: Any) -> Checked:
        check_is_fitted(self)
        return self._read(data, compress=False)


def series(values: FloatArray, checked: Checked, name: str) -> pd.Series:
    """Per-customer results, indexed by ``customer_id`` when the input has it."""
    return pd.Series(values, index=checked.index, name=name)
