"""Bodies of the at-risk list and the customer 360."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, Field

from retain import targeting
from retain.app._frames import json_value
from retain.app._openapi import UtcDateTime
from retain.targeting import SortKey

__all__ = [
    "AtRiskCustomer",
    "AtRiskPage",
    "Customer360",
    "CustomerScores",
    "NextOrder",
    "Reason",
    "SortKey",
    "TimelineItem",
]


class Reason(BaseModel):
    """One reason a customer is at risk, rendered in the request's language."""

    key: str
    text: str
    params: dict[str, Any] = Field(default_factory=dict)
    contribution: float | None = None


class AtRiskCustomer(BaseModel):
    """A row of the at-risk list. ``email``/``phone`` are null for roles without PII access."""

    customer_id: str
    probability: float
    risk_band: str | None
    at_risk_value: float | None = Field(
        description="p(churn) x CLV; null where the customer has no CLV (unknown, not 0)"
    )
    clv: float | None
    currency: str | None
    probability_alive: float | None
    country: str | None
    acquisition_channel: str | None
    email: str | None = None
    phone: str | None = None
    reasons: list[Reason]
    as_of: UtcDateTime | None = Field(description="Reference date of the score (UTC)")
    model_version: str | None

    @classmethod
    def from_row(cls, row: targeting.AtRiskRow) -> AtRiskCustomer:
        """The API's form of a library row (timestamps in UTC with their offset)."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
        return cls.model_validate({k: json_value(v) for k, v in values.items()})


class AtRiskPage(BaseModel):
    """One page of the at-risk list; pass ``next_cursor`` as ``cursor`` for the next.

    Every row and the count belong to one business line (``definition``) and its latest
    scoring run (``as_of``).
    """

    data: list[AtRiskCustomer]
    count: int
    next_cursor: str | None
    definition: str = Field(description="The business line (churn definition) listed")
    as_of: UtcDateTime | None = Field(
        None, description="Reference date of the line's latest scoring run (UTC); null if none"
    )

    @classmethod
    def from_page(cls, page: targeting.AtRiskPage) -> AtRiskPage:
        """The API's form of a page of :func:`retain.targeting.at_risk`."""
        return cls(
            data=[AtRiskCustomer.from_row(row) for row in page.rows],
            count=page.total,
            next_cursor=page.next_cursor,
            definition=page.definition,
            as_of=json_value(page.as_of),
        )


class TimelineItem(BaseModel):
    """One thing that happened to the customer, newest first in the timeline."""

    at: UtcDateTime | None = Field(description="When it happened (UTC)")
    kind: str
    title: str
    detail: dict[str, Any]


class NextOrder(BaseModel):
    """When the purchase model expects the customer's next order (non-contractual lines)."""

    expected_at: UtcDateTime | None = Field(
        description="Expected day of the next order (UTC; median wait if still active); null "
        "when unlikely"
    )
    unlikely: bool = Field(
        description="The customer is more likely gone than active (P(alive) below 0.5)"
    )
    probability_30d: float | None = Field(description="P(at least one order within 30 days)")
    probability_60d: float | None = Field(description="P(at least one order within 60 days)")
    probability_90d: float | None = Field(description="P(at least one order within 90 days)")


class CustomerScores(BaseModel):
    """The customer's latest churn scores (one per definition) and lifetime value."""

    customer_id: str
    churn: list[dict[str, Any]]
    clv: dict[str, Any] | None
    next_order: NextOrder | None = Field(
        None, description="From the latest CLV scores; null without them or before they had it"
    )
    probability_alive_note: str | None = Field(
        None, description="Why P(alive) reads 100 % for a one-time buyer, when it does"
    )


class Customer360(BaseModel):
    """Everything known about one customer."""

    customer_id: str
    profile: dict[str, Any] | None
    pii_visible: bool
    orders: list[dict[str, Any]]
    events: list[dict[str, Any]]
    subscriptions: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    churn: list[dict[str, Any]]
    clv: dict[str, Any] | None
    next_order: NextOrder | None = None
    probability_alive_note: str | None = None
    timeline: list[TimelineItem]
    truncated: bool
