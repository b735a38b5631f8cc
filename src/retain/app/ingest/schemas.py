"""Bodies of the JSON batch ingest endpoint."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_BATCH_RECORDS", "IngestBatch", "IngestResult", "RecordError"]

MAX_BATCH_RECORDS = 10_000


class IngestBatch(BaseModel):
    """Records in the canonical columns of the table (see docs/data-model.md)."""

    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH_RECORDS)


class RecordError(BaseModel):
    """Why one record was not stored. ``index`` is its 0-based position in ``records``."""

    index: int | None
    record_id: str | None
    field: str | None
    rule: str
    message: str
    hint: str | None


class IngestResult(BaseModel):
    """What happened to a batch: valid records are stored, invalid ones listed in ``errors``.

    An event id already stored with other values is listed with rule ``event_conflict``: events
    are immutable facts and never overwritten (orders and customers are updated).
    """

    table: str
    batch_id: str
    received: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    collapsed: int = Field(
        0, description="Records repeating another record of the batch exactly: stored once."
    )
    errors: list[RecordError]
