"""retain: keep your customers.

Measure churn and retention, value each customer, predict who is about to leave and why, and act
where it pays. The package is library first: the CLI (``retain``), the service and the dashboard
are thin layers over the functions and estimators exported here.
"""

from __future__ import annotations

from retain.config import Settings, get_settings
from retain.errors import (
    ConfigError,
    DataValidationError,
    NotFittedError,
    NotFoundError,
    RetainError,
    Violation,
)
from retain.warehouse import connect, read_table, write_table

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataValidationError",
    "NotFittedError",
    "NotFoundError",
    "RetainError",
    "Settings",
    "Violation",
    "__version__",
    "connect",
    "get_settings",
    "read_table",
    "write_table",
]
