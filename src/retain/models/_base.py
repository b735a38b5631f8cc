"""What every retain estimator shares: scikit-learn's parameter contract and fitted-state checks.

:class:`RetainEstimator` inherits only the public :class:`sklearn.base.BaseEstimator` (for
``get_params`` / ``set_params`` / ``clone`` / ``repr``) and keeps a small equivalent of
scikit-learn's private parameter validation, with the same message shape::

    The 'penalizer' parameter of BetaGeoModel must be a float in the range [0, inf). Got -1 instead.

Constraints are declared per class in ``_parameter_constraints`` and checked at the start of
``fit`` (never in ``__init__``, so ``clone`` and ``set_params`` stay cheap and lossless).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, ClassVar

from sklearn.base import BaseEstimator

from retain.errors import InvalidParameterError, NotFittedError
from retain.i18n import t

__all__ = ["Interval", "Options", "RetainEstimator", "check_is_fitted"]


@dataclass(frozen=True)
class Interval:
    """A number of a given kind (``Real`` or ``Integral``) inside ``[left, right]``.

    ``None`` bounds are infinite; ``closed`` says which ends are included: ``"left"``,
    ``"right"``, ``"both"`` or ``"neither"``.
    """

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` has the right type and lies in the interval."""
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        number = float(value)  # type: ignore[arg-type]  # a Real, checked above
        if self.left is not None:
            low_ok = number >= self.left if self.closed in ("left", "both") else number > self.left
            if not low_ok:
                return False
        if self.right is not None:
            high_ok = (
                number <= self.right if self.closed in ("right", "both") else number < self.right
            )
            if not high_ok:
                return False
        return True

    def __str__(self) -> str:
        noun = "an int" if self.kind is Integral else "a float"
        left = "-inf" if self.left is None else f"{self.left:g}"
        right = "inf" if self.right is None else f"{self.right:g}"
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{noun} in the range {lb}{left}, {right}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (strings, or ``None`` when listed)."""

    values: tuple[Any, ...]

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is one of the options."""
        return any(value is v or (value == v and type(value) is type(v)) for v in self.values)

    def __str__(self) -> str:
        shown = ", ".join(repr(v) for v in self.values)
        return f"a str among {{{shown}}}"


Constraint = Interval | Options


class RetainEstimator(BaseEstimator):  # type: ignore[misc]
    """Base of retain's estimators: keyword-only hyper-parameters, checked when ``fit`` starts.

    Subclasses list their hyper-parameters as keyword-only ``__init__`` arguments stored
    unchanged under the same name, declare ``_parameter_constraints`` and call
    :meth:`_validate_params` first thing in ``fit``. Learned state ends in ``_``.
    """

    _parameter_constraints: ClassVar[Mapping[str, Sequence[Constraint]]] = {}
    _message_area: ClassVar[str] = "clv"
    """Message catalog whose ``param_invalid`` / ``param_invalid_hint`` keys word the error."""

    def _validate_params(self) -> None:
        """Raise :class:`InvalidParameterError` for the first hyper-parameter out of range."""
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if any(c.is_satisfied_by(value) for c in constraints):
                continue
            allowed = " or ".join(str(c) for c in constraints)
            area = self._message_area
            raise InvalidParameterError(
                t(
                    f"{area}.param_invalid",
                    name=name,
                    estimator=type(self).__name__,
                    allowed=allowed,
                    value=repr(value),
                ),
                hint=t(f"{area}.param_invalid_hint", estimator=type(self).__name__),
                code="parameter.invalid",
            )


def check_is_fitted(estimator: Any) -> None:
    """Raise :class:`NotFittedError` (scikit-learn's text) when ``estimator`` has no fitted state.

    An estimator counts as fitted when it has at least one public attribute ending in ``_``.
    """
    fitted = [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]
    if not fitted:
        raise NotFittedError(
            t("clv.not_fitted", name=type(estimator).__name__),
            hint=t("clv.not_fitted_hint"),
        )
