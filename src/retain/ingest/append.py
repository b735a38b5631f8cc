"""Interactions the product itself records (deliveries, answers, stages) appended to the warehouse.

The engage worker, surveys, the cancellation flow and tickets each keep their own rows in the
app database and, once committed there, append them to the warehouse's ``interactions`` so that
the churn features and the uplift models see them. This module is the one way they do it: the
canonical columns, JSON properties, and :func:`retain.ingest.ingest` with
``on_error="quarantine"``. Every record has a stable ``interaction_id``, so appending one again
(a retry after a crash) changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from retain.ingest.load import ingest

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["Interaction", "append_interactions"]


@dataclass(frozen=True)
class Interaction:
    """One ``interactions`` row; ``properties`` is stored as JSON (non-ASCII kept)."""

    interaction_id: str
    customer_id: str
    occurred_at: dt.datetime
    kind: str
    channel: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    campaign_id: str | None = None


def append_interactions(
    records: Iterable[Interaction],
    *,
    settings: Settings | None = None,
    con: BaseBackend | None = None,
) -> int:
    """Append ``records`` to ``interactions`` (``con``, else the settings' warehouse).

    Returns how many were given; rows the warehouse refuses go to its quarantine like any
    ingested row, and an id already stored with the same content is skipped.
    """
    rows = list(records)
    if not rows:
        return 0
    frame = pa.table(
        {
            "interaction_id": [r.interaction_id for r in rows],
            "customer_id": [r.customer_id for r in rows],
            "occurred_at": [r.occurred_at for r in rows],
            "kind": [r.kind for r in rows],
            "channel": [r.channel for r in rows],
            "campaign_id": pa.array([r.campaign_id for r in rows], pa.string()),
            "properties": [json.dumps(dict(r.properties), ensure_ascii=False) for r in rows],
        }
    )
    ingest("interactions", frame, con=con, settings=settings, on_error="quarantine")
    return len(rows)
