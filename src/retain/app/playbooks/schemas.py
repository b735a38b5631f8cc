"""What the playbook routes return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from retain.app._openapi import UtcDateTime

__all__ = [
    "Difference",
    "DryRunAnswer",
    "DryRunDecision",
    "PlaybookDetail",
    "PlaybookEdit",
    "PlaybookInfo",
    "PlaybookList",
    "PlaybookPatch",
    "ResultsAnswer",
    "SummaryRow",
    "VariantResult",
    "VersionInfo",
]


class PlaybookInfo(BaseModel):
    """One loaded playbook: when it fires, how it acts, how it is judged."""

    name: str
    description: str
    enabled: bool
    trigger: dict[str, Any]
    channel: str
    template: str
    holdout: float
    category: str
    priority: int
    attribution_days: int
    offer: dict[str, Any] | None
    goal: dict[str, Any] | None
    version: int = Field(default=1, description="The version that runs (1: the file's).")


class PlaybookList(BaseModel):
    """The book the service runs, and the file it came from."""

    source: str
    playbooks: list[PlaybookInfo]


class SummaryRow(BaseModel):
    """Per playbook: customers found, sent, delayed, held out and skipped by reason."""

    playbook: str
    found: int
    send: int
    delayed: int
    holdout: int
    skipped: dict[str, int] = Field(description="Customers skipped, by reason.")


class DryRunDecision(BaseModel):
    """Who would get what, on which channel, or why not."""

    playbook: str
    customer_id: str
    status: str
    reason: str | None
    channel: str | None
    template: str
    variant: str
    language: str
    subject: str | None
    send_at: UtcDateTime | None
    occurrence: str


class DryRunAnswer(BaseModel):
    """A dry run at a moment: the summary, the first decisions, the playbooks left out."""

    as_of: UtcDateTime
    summary: list[SummaryRow]
    decisions: list[DryRunDecision]
    total_decisions: int
    unavailable: dict[str, str] = Field(description="Playbooks whose table is not loaded.")


class Difference(BaseModel):
    """Treated minus holdout, with its 95 % interval."""

    estimate: float
    low: float
    high: float


class VariantResult(BaseModel):
    """One variant against the whole holdout."""

    variant: str
    treated: dict[str, float | int | None] = Field(description="Customers and rates, treated.")
    holdout: dict[str, float | int | None] = Field(description="Customers and rates, holdout.")
    difference: dict[str, Difference | None] = Field(description="Per metric, with 95 % CI.")
    incremental_profit: float | None
    goal: dict[str, Any] | None = Field(description="Metric, target, value and progress.")


class ResultsAnswer(BaseModel):
    """A playbook's (or past campaign's) measured lift, per variant."""

    playbook: str
    as_of: UtcDateTime
    window_days: int
    customers: int
    pending: int = Field(description="Customers whose attribution window has not ended.")
    variants: list[VariantResult]


class PlaybookEdit(BaseModel):
    """A whole playbook to create or replace, with its own templates if it brings them."""

    playbook: dict[str, Any] = Field(
        description="The keys of a [[playbook]] table of playbooks.toml (docs/playbooks.md); "
        "checked exactly as the file is."
    )
    templates: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description="Per language (en required, ja, ko): subject, body and variants, as a "
        "templates/<template>.<lang>.toml file holds them; none: the files' templates.",
    )
    version: int | None = Field(
        default=None, ge=1, le=2**31, description="Version edited, when If-Match is not sent."
    )


class PlaybookPatch(BaseModel):
    """Some keys to change (JSON merge patch: null removes a key)."""

    playbook: dict[str, Any] = Field(default_factory=dict)
    templates: dict[str, Any] | None = None
    version: int | None = Field(default=None, ge=1, le=2**31)


class VersionInfo(BaseModel):
    """One kept version."""

    version: int
    author: str
    created_at: UtcDateTime
    deleted: bool


class PlaybookDetail(BaseModel):
    """One playbook as an editor sees it; ``version`` is also the ETag."""

    name: str
    version: int
    definition: dict[str, Any]
    templates: dict[str, dict[str, Any]]
    history: list[VersionInfo]
