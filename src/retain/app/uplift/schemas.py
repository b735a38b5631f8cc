"""Answers of the uplift API: the stored evaluations of past randomized campaigns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from retain.app._openapi import UtcDateTime

__all__ = ["UpliftCampaign", "UpliftCampaigns", "UpliftEvaluation"]


class UpliftCampaign(BaseModel):
    """One stored evaluation, listed."""

    campaign_id: str
    outcome: str
    learner: str | None = None
    started_at: UtcDateTime | None = None
    n_test: int | None = None
    evaluated_at: UtcDateTime | None = None


class UpliftCampaigns(BaseModel):
    """Every stored evaluation, newest campaign first; empty with a hint when none is stored."""

    campaigns: list[UpliftCampaign]
    note: str | None = None


class UpliftEvaluation(BaseModel):
    """A campaign's held-out evaluation: model vs highest churn risk vs random."""

    campaign_id: str
    outcome: str
    learner: str
    started_at: UtcDateTime | None
    evaluated_at: UtcDateTime
    n_train: int
    n_test: int
    effects: list[dict[str, Any]] = Field(description="Measured effect per arm, with interval.")
    policies: list[dict[str, Any]] = Field(
        description="Qini, AUUC and uplift at 30 % per arm and policy, with 95 % intervals."
    )
    deciles: list[dict[str, Any]] = Field(description="Measured uplift per predicted decile.")
    curves: list[dict[str, Any]] = Field(description="Qini curve points (share, qini).")
    summary: str
    unit: Literal["share", "money"] = Field(
        description="What effect, uplift_at, decile uplift and curve qini values are: 'share' "
        "(retention, conversion: a difference of shares, 0.05 = 5 percentage points) or "
        "'money' (revenue per customer, in currency)."
    )
    currency: str | None = Field(
        description="The reporting currency of a 'money' unit (null for a share)."
    )
    window_days: int | None = Field(
        default=None,
        description="Days after each assignment the outcome was counted in (null: stored "
        "before windows were recorded).",
    )
    window_basis: Literal["given", "playbook", "default"] | None = Field(
        default=None,
        description="Where the window came from: given (--window), playbook (a playbook: "
        "campaign's own window) or default (60 days).",
    )
    window_note: str | None = Field(
        default=None, description="The window and its source, in the reader's language."
    )
