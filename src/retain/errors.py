"""Exceptions and warnings raised on purpose by retain.

Every error a user can cause is a :class:`RetainError`, and each also inherits from the builtin
a caller would naturally catch::

    RetainError                                    base of everything raised on purpose
    ├── ConfigError(RetainError, ValueError)
    ├── DataValidationError(RetainError, ValueError)   .violations: list[Violation]
    │   ├── MissingColumnError
    │   ├── SchemaError
    │   └── DuplicateKeyError
    ├── InvalidParameterError(RetainError, ValueError, TypeError)
    ├── NotFittedError(RetainError, ValueError, AttributeError)
    ├── ConvergenceError(RetainError, RuntimeError)
    ├── UnsupportedBackendError(RetainError)
    ├── NotFoundError(RetainError, LookupError)        → HTTP 404
    ├── PermissionDeniedError(RetainError)             → HTTP 403
    └── ConflictError(RetainError)                     → HTTP 409
    RetainWarning(UserWarning)
    ├── DataQualityWarning
    ├── ConvergenceWarning
    └── ApproximationWarning

Messages have three parts: what went wrong, where, and a hint to fix it. The CLI prints
``Error: <message>`` and ``Hint: <hint>``; the service returns ``{"error": {"code", "message",
"details"}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ApproximationWarning",
    "ConfigError",
    "ConflictError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataQualityWarning",
    "DataValidationError",
    "DuplicateKeyError",
    "InvalidParameterError",
    "MissingColumnError",
    "NotFittedError",
    "NotFoundError",
    "PermissionDeniedError",
    "RetainError",
    "RetainWarning",
    "SchemaError",
    "TooManyRequestsError",
    "UnsupportedBackendError",
    "Violation",
]


@dataclass(frozen=True)
class Violation:
    """One broken rule in one place of an input.

    ``row`` is the 1-based line number in the source file (the header is line 1 for CSV) or the
    0-based index of a record in a frame or JSON batch; ``None`` when the rule concerns the whole
    input (an empty file, a missing column).
    """

    rule: str
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: Any = None
    hint: str | None = None

    def location(self) -> str:
        """``orders.csv line 5123, column ordered_at`` — the where part of a message."""
        parts: list[str] = []
        if self.file:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"line {self.row}")
        where = " ".join(parts)
        if self.column:
            where = f"{where}, column {self.column}" if where else f"column {self.column}"
        return where

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} (rule: {self.rule})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for API error details and reject tables."""
        value = self.value
        if value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        return {
            "rule": self.rule,
            "message": self.message,
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": value,
            "hint": self.hint,
        }


class RetainError(Exception):
    """Base of every error retain raises on purpose.

    Parameters
    ----------
    message
        What went wrong and where, in one line.
    hint
        How to fix it, in one line, or ``None``.
    code
        A stable, dotted machine-readable code (``data.invalid_date``), used by the API.
    """

    default_code = "retain.error"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code or self.default_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class ConfigError(RetainError, ValueError):
    """The configuration (retain.toml, RETAIN_* variables, a mapping file) is invalid."""

    default_code = "config.invalid"


class DataValidationError(RetainError, ValueError):
    """Input data broke one or more rules; nothing was written.

    ``violations`` lists every broken rule found (the message shows the first few).
    """

    default_code = "data.invalid"
    shown = 5

    def __init__(
        self,
        violations: Sequence[Violation],
        *,
        message: str | None = None,
        hint: str | None = None,
        total: int | None = None,
        code: str | None = None,
    ) -> None:
        self.violations = list(violations)
        self.total = total if total is not None else len(self.violations)
        if message is None:
            lines = [str(v) for v in self.violations[: self.shown]]
            more = self.total - len(lines)
            if more > 0:
                lines.append(f"... and {more} more")
            message = "; ".join(lines) if len(lines) <= 1 else "\n  " + "\n  ".join(lines)
        if hint is None:
            hint = next((v.hint for v in self.violations if v.hint), None)
        if code is None and self.violations:
            code = f"data.{self.violations[0].rule}"
        super().__init__(message, hint=hint, code=code)


class MissingColumnError(DataValidationError):
    """A required column is absent from the input."""

    default_code = "data.missing_column"


class SchemaError(DataValidationError):
    """A value or column does not have the type the canonical schema expects."""

    default_code = "data.schema"


class DuplicateKeyError(DataValidationError):
    """The same key appears more than once in one batch."""

    default_code = "data.duplicate_key"


class InvalidParameterError(RetainError, ValueError, TypeError):
    """A function or estimator parameter has a value outside its allowed range or type."""

    default_code = "parameter.invalid"


class NotFittedError(RetainError, ValueError, AttributeError):
    """An estimator was used before ``fit``."""

    default_code = "model.not_fitted"


class ConvergenceError(RetainError, RuntimeError):
    """An optimiser did not converge; the message carries a checklist of likely causes."""

    default_code = "model.not_converged"


class UnsupportedBackendError(RetainError):
    """The warehouse URL names an engine retain cannot use, or the engine lacks a feature."""

    default_code = "warehouse.unsupported"


class NotFoundError(RetainError, LookupError):
    """A requested object (customer, model, user, table) does not exist."""

    default_code = "not_found"


class PermissionDeniedError(RetainError):
    """The caller's role does not allow the action."""

    default_code = "permission_denied"


class ConflictError(RetainError):
    """The action conflicts with the current state (a duplicate name, a reused idempotency key)."""

    default_code = "conflict"


class TooManyRequestsError(RetainError):
    """Too many attempts in a short time; try again in ``retry_after`` seconds (HTTP 429)."""

    default_code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = max(1, int(retry_after))


class RetainWarning(UserWarning):
    """Base of retain's warnings."""


class DataQualityWarning(RetainWarning):
    """The data is usable but suspicious (correlated spend and frequency, few repeat buyers...)."""


class ConvergenceWarning(RetainWarning):
    """An optimiser stopped on a limit, or the Hessian is not invertible."""


class ApproximationWarning(RetainWarning):
    """A result is an approximation (series truncated, numeric integration used)."""
