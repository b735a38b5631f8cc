"""What the metrics API answers (the shape is enforced by FastAPI and shown in OpenAPI)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["CohortsAnswer", "OverviewAnswer", "PeriodsAnswer"]

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
    """Cohort retention, one row per (cohort, period_index)."""

    period: str
    kind: str
    mode: str
    data: list[Row]
    count: int


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
