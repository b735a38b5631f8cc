"""What the metrics API answers (the shape is enforced by FastAPI and shown in OpenAPI)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "CohortCustomersAnswer",
    "CohortsAnswer",
    "LifecycleAnswer",
    "OverviewAnswer",
    "PeriodsAnswer",
    "SurvivalAnswer",
]

Row = dict[str, Any]


class PeriodsAnswer(BaseModel):
    """Customer and order figures, one row per period (and per ``by`` group)."""

    period: str
    data: list[Row] = Field(
        description="the optional by columns, then every column of "
        "retain.metrics.PERIOD_COLUMNS (docs/metrics.md). retention_rate is CRR = (customers "
        "at end - new) / customers at start and can pass 100 %: it counts customers back "
        "after a pause; strict_retention_rate = (customers at start - lost) / customers at "
        "start never does"
    )
    count: int
    note: str = Field(default="", description="why CRR can pass 100 %, in the caller's language")


class CohortsAnswer(BaseModel):
    """Cohort retention, one row per (by group,) cohort and period_index."""

    period: str
    kind: str
    mode: str
    by: list[str] = Field(default_factory=list, description="the columns each cohort is split by")
    data: list[Row] = Field(
        description="the optional by columns, then cohort, period_index, cohort_size, active, "
        "value, revenue, cumulative_revenue_per_customer (retain.metrics.COHORT_COLUMNS)"
    )
    count: int


class CohortCustomersAnswer(BaseModel):
    """One page of the customers behind a cohort cell; ``total`` equals the cell's ``active``."""

    cohort: str
    period_index: int
    period: str
    mode: str
    definition: str | None = None
    by: str | None = None
    group: str | None = Field(default=None, description="the by group; null: no value")
    total: int
    limit: int
    offset: int
    data: list[Row] = Field(
        description="customer_id, acquired_at, country, acquisition_channel, by customer_id"
    )


class LifecycleAnswer(BaseModel):
    """Customers per lifecycle stage and period (and by group)."""

    period: str
    horizon_days: int = Field(description="inactivity after which a customer counts as churned")
    by: list[str] = Field(default_factory=list)
    data: list[Row] = Field(
        description="the optional by columns, then period_start, stage (new, returning, "
        "resurrected, dormant, churned), customers"
    )
    count: int


class SurvivalAnswer(BaseModel):
    """Kaplan-Meier retention curves of one business line, median lifetimes, a log-rank test."""

    line: str
    kind: str = Field(description="contractual (subscriptions end) or non_contractual")
    unit: str
    by: str | None = None
    horizon_days: int
    rule: str = Field(description="what churn means here, in the caller's language")
    curves: list[Row] = Field(
        description="by, timeline, survival, ci_lower, ci_upper (95 %), at_risk, observed, censored"
    )
    summary: list[Row] = Field(
        description="by, customers, churned, median_lifetime (null when not reached)"
    )
    logrank: Row | None = Field(
        default=None,
        description="statistic, p_value, degrees_of_freedom, groups; null without two groups",
    )


class OverviewAnswer(BaseModel):
    """The dashboard's headline numbers of one business line; ``missing`` names what is absent."""

    line: str = Field(description="the business line ([[churn]] section) every number belongs to")
    kind: str = Field(description="contractual or non_contractual")
    activity: str = Field(
        description="what made a customer count: subscriptions (contractual lines), orders or "
        "events"
    )
    lines: list[str] = Field(description="every configured business line")
    start: str | None = Field(default=None, description="first local date asked for")
    end: str | None = Field(default=None, description="last local date asked for")
    periods: list[Row]
    mrr: list[Row]
    at_risk: Row | None = Field(
        description="customers scored, per risk band, and value at risk; null before scoring"
    )
    missing: list[str]
