"""Bodies of the saved-segment endpoints."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retain.app._openapi import UtcDateTime
from retain.app.segments import service
from retain.app.segments.models import SavedSegment
from retain.targeting import RISK_BANDS, AtRiskQuery, RiskBand
from retain.targeting.query import MAX_ABS_VALUE, MAX_TENURE_DAYS, MAX_TEXT_LENGTH

__all__ = [
    "SegmentCreate",
    "SegmentFilters",
    "SegmentMembers",
    "SegmentPublic",
    "SegmentSize",
    "SegmentSizes",
    "SegmentUpdate",
    "SegmentsPublic",
]

RULE_DESCRIPTION = (
    "The segment's rule (docs/segments.md): a JSON object with one of field (and op, value), "
    "event (at_least, days), segment (a saved segment's name), all, any or not. Checked when "
    "saved; a mistake is a 422 whose message starts with its path, e.g. rule.all[2].field."
)


class SegmentFilters(BaseModel):
    """The filters a segment stands for: the filter fields of an at-risk query.

    The body's form of :meth:`retain.targeting.AtRiskQuery.filters`, with the same bounds;
    :meth:`to_query` checks the rest (an inverted CLV range) when a segment is saved.
    """

    model_config = ConfigDict(extra="forbid")

    risk_bands: list[RiskBand] = Field(default_factory=list, max_length=len(RISK_BANDS))
    clv_min: float | None = Field(None, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)
    clv_max: float | None = Field(None, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)
    country: str | None = Field(None, max_length=MAX_TEXT_LENGTH["country"])
    channel: str | None = Field(None, max_length=MAX_TEXT_LENGTH["channel"])
    reason: str | None = Field(None, max_length=MAX_TEXT_LENGTH["reason"])
    plan: str | None = Field(None, max_length=MAX_TEXT_LENGTH["plan"])
    tenure_min: int | None = Field(None, ge=0, le=MAX_TENURE_DAYS)
    tenure_max: int | None = Field(None, ge=0, le=MAX_TENURE_DAYS)

    def to_query(self) -> AtRiskQuery:
        """These filters as the query a segment stores (refused if inconsistent)."""
        return AtRiskQuery.from_dict(self.model_dump(exclude_none=True))


class SegmentCreate(BaseModel):
    """A new saved segment: a rule, at-risk filters, or both."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s].*$")
    description: str = Field("", max_length=2000)
    filters: SegmentFilters = Field(default_factory=SegmentFilters)
    rule: dict[str, Any] | None = Field(None, description=RULE_DESCRIPTION)

    def to_query(self) -> AtRiskQuery:
        """The filters and the rule as the query a segment stores (refused if invalid)."""
        return replace(self.filters.to_query(), rule=self.rule)  # type: ignore[arg-type]


class SegmentUpdate(BaseModel):
    """Changes to a segment; omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\s].*$")
    description: str | None = Field(None, max_length=2000)
    filters: SegmentFilters | None = None
    rule: dict[str, Any] | None = Field(
        None, description=RULE_DESCRIPTION + " Send null to remove the rule."
    )


class SegmentPublic(BaseModel):
    """A saved segment."""

    @classmethod
    def of(cls, segment: SavedSegment) -> SegmentPublic:
        """The stored segment as the API shows it (kind, filters and rule read from its JSON)."""
        filters = service.stored_filters(segment)
        rule = service.stored_rule(segment)
        return cls(
            id=segment.id,
            name=segment.name,
            description=segment.description,
            kind="rule" if rule is not None and not any(filters.values()) else "filters",
            filters=SegmentFilters.model_validate(filters),
            rule=rule,
            created_by=segment.created_by,
            created_at=segment.created_at,
            updated_at=segment.updated_at,
        )

    id: int
    name: str
    description: str
    kind: Literal["rule", "filters"] = Field(
        description="rule: customers a rule keeps, at any date; filters: the at-risk list's "
        "customers the filters keep (the older form; a rule may be added to them)"
    )
    filters: SegmentFilters
    rule: dict[str, Any] | None = Field(None, description=RULE_DESCRIPTION)
    created_by: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


class SegmentsPublic(BaseModel):
    """All saved segments."""

    data: list[SegmentPublic]
    count: int


class SegmentMembers(BaseModel):
    """One page of a saved segment's customers on a date."""

    name: str
    as_of: UtcDateTime | None = Field(description="The date the members hold on; None if never.")
    total: int
    offset: int
    data: list[str] = Field(description="Customer ids, sorted.")


class SegmentSize(BaseModel):
    """A saved rule's size on one date."""

    as_of: UtcDateTime
    customers: int


class SegmentSizes(BaseModel):
    """A saved rule's size at month ends, oldest first (the rule evaluated at each)."""

    name: str
    data: list[SegmentSize]
