"""retain: keep your customers.

Measure churn and retention, value each customer, predict who is about to leave and why, and act
where it pays. The package is library first: the CLI (``retain``), the service and the dashboard
are thin layers over the functions and estimators exported here and in the subpackages
``retain.metrics``, ``retain.models.clv``, ``retain.models.churn``, ``retain.features``,
``retain.ingest``, ``retain.demo`` and ``retain.report``.
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
from retain.ingest import IngestReport, ingest, load_recipe
from retain.warehouse import connect, create_tables, read_table, write_table

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataValidationError",
    "IngestReport",
    "NotFittedError",
    "NotFoundError",
    "RetainError",
    "Settings",
    "Violation",
    "__version__",
    "connect",
    "create_tables",
    "get_settings",
    "ingest",
    "load_recipe",
    "read_table",
    "write_table",
]
