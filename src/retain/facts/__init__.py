"""The one definition of each business fact every layer above relies on.

A rule the business depends on has exactly one home (DESIGN.md, "Layers"): what a completed order
is, what counts as a customer's activity, how a key of the JSON ``attributes`` is read, which
currency amounts are summed in, what a date argument may be, and how a missing column is
reported. Metrics, features, lifetime value, churn and the service import these and never
restate them, so the churn-rate metric, the churn labels and the lifetime-value summary count
the same orders on the same data.
"""

from retain.facts.activity import ActivityKind, activity_rows
from retain.facts.attributes import PORTABLE_KEY, json_text
from retain.facts.columns import missing_columns_error, require_columns, require_table
from retain.facts.dates import DateLike, as_timestamp, parse_timestamp
from retain.facts.money import (
    RATES_TABLE,
    currency_code,
    currency_counts,
    in_reporting_currency,
    mixed_currencies_error,
    reporting_currency,
)
from retain.facts.orders import completed_orders, flag, is_completed, net_revenue

__all__ = [
    "PORTABLE_KEY",
    "RATES_TABLE",
    "ActivityKind",
    "DateLike",
    "activity_rows",
    "as_timestamp",
    "completed_orders",
    "currency_code",
    "currency_counts",
    "flag",
    "in_reporting_currency",
    "is_completed",
    "json_text",
    "missing_columns_error",
    "mixed_currencies_error",
    "net_revenue",
    "parse_timestamp",
    "reporting_currency",
    "require_columns",
    "require_table",
]
