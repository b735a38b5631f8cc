"""Retention analytics: pure functions from Ibis tables to Ibis tables.

Every metric is written once in Ibis and runs inside the warehouse engine (DuckDB, PySpark,
PostgreSQL); nothing executes until the caller asks (``.to_pandas()``,
:func:`retain.warehouse.write_table`). Survival estimation is the exception by design: the
engine aggregates counts, numpy computes the Kaplan-Meier curves with lifelines' formulas (the
log-rank test calls lifelines), and the result is a pandas frame.

- :func:`period_metrics` customers at start/end, new, lost, reactivated, churn rate, CRR,
  repeat purchase rate, purchase frequency, average order value, revenue per customer.
- :func:`cohort_retention` acquisition cohorts (logo and revenue; classic and unbounded), and
  :func:`cohort_customers`, the customers behind one cell.
- :func:`lifecycle` new / returning / resurrected / dormant / churned customers per period.
- :func:`mrr_movements` MRR with new, expansion, contraction, churned and reactivation MRR,
  logo churn, gross and net revenue retention.
- :func:`subscription_durations` (subscribers), :func:`inactivity_durations` (shop customers,
  churn = the line's inactivity rule), :func:`kaplan_meier`, :func:`survival_summary`,
  :func:`logrank_test` survival curves by segment.
- :func:`order_activity`, :func:`event_activity`, :func:`subscription_activity` what counts
  as activity.
"""

from __future__ import annotations

from retain.metrics._activity import (
    Activity,
    event_activity,
    order_activity,
    subscription_activity,
)
from retain.metrics._periods import PERIODS
from retain.metrics.cohorts import (
    COHORT_COLUMNS,
    cohort_customers,
    cohort_retention,
    cohort_sizes,
)
from retain.metrics.lifecycle import LIFECYCLE_STAGES, lifecycle
from retain.metrics.retention import PERIOD_COLUMNS, period_metrics
from retain.metrics.subscriptions import MRR_COLUMNS, monthly_amount, mrr_movements
from retain.metrics.survival import (
    LogRankResult,
    inactivity_durations,
    kaplan_meier,
    logrank_test,
    subscription_durations,
    survival_summary,
)

__all__ = [
    "COHORT_COLUMNS",
    "LIFECYCLE_STAGES",
    "MRR_COLUMNS",
    "PERIODS",
    "PERIOD_COLUMNS",
    "Activity",
    "LogRankResult",
    "cohort_customers",
    "cohort_retention",
    "cohort_sizes",
    "event_activity",
    "inactivity_durations",
    "kaplan_meier",
    "lifecycle",
    "logrank_test",
    "monthly_amount",
    "mrr_movements",
    "order_activity",
    "period_metrics",
    "subscription_activity",
    "subscription_durations",
    "survival_summary",
]
