"""Bodies of the saved-segment endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SegmentCreate", "SegmentFilters", "SegmentPublic", "SegmentUpdate", "SegmentsPublic"]


class SegmentFilters(BaseModel):
    """The filters a segment stands for (the at-risk list's parameters)."""

    model_config = ConfigDict(extra="forbid")

    risk_bands: list[Literal["high", "medium", "low"]] = Field(default_factory=list, max_length=3)
    clv_min: float | None = Field(None, ge=-1e15, le=1e15)
    clv_max: float | None = Field(None, ge=-1e15, le=1e15)
    country: str | None = Field(None, max_length=100)
    channel: str | None = Field(None, max_length=100)


class SegmentCreate(BaseModel):
    """A new saved segment."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s].*$")
    description: str = Field("", max_length=2000)
    filters: SegmentFilters = Field(default_factory=SegmentFilters)


class SegmentUpdate(BaseModel):
    """Changes to a segment; omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\s].*$")
    description: str | None = Field(None, max_length=2000)
    filters: SegmentFilters | None = None


class SegmentPublic(BaseModel):
    """A saved segment."""

    id: int
    name: str
    description: str
    filters: SegmentFilters
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class SegmentsPublic(BaseModel):
    """All saved segments."""

    data: list[SegmentPublic]
    count: int
