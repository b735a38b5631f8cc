"""What the plan routes return."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from retain.app._openapi import UtcDateTime

__all__ = ["PlanAnswer", "PlanDecision"]


class PlanDecision(BaseModel):
    """One customer's decision: the action or why they are left out."""

    customer_id: str
    status: Literal["target", "holdout", "left_out"]
    action: str
    reason: str
    reason_label: str
    churn_probability: float
    clv: float
    uplift: float | None
    uplift_honest: float | None
    expected_cost: float
    expected_profit: float


class PlanAnswer(BaseModel):
    """A plan: where its uplift came from, its totals in words and numbers, its first rows."""

    plan_id: str
    as_of: UtcDateTime | None = Field(description="The scores' date the plan was made on.")
    currency: str
    uplift_source: Literal["heuristic", "history"]
    assumed_response_rates: dict[str, float]
    note: str = Field(description="Where the uplift came from, in the reader's language.")
    lines: list[str] = Field(description="The summary every output prints.")
    summary: dict[str, object]
    targets: list[PlanDecision] = Field(description="Customers to contact, most profit first.")
    left_out: list[PlanDecision] = Field(description="Customers left out (holdout first).")
    total_targets: int
    total_left_out: int
