"""What a load quarantined: the ``rejects`` rows of one batch, newest batch by default.

``retain rejects`` (and anything else that shows rejected rows) reads them through
:func:`read_rejects`, so "which batch is the newest" and "in what order rows are shown" have one
definition: the newest batch is the latest ``ingest_batches.started_at`` among batches with
rejected rows, and rows come in file and line order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from retain import warehouse as wh
from retain.errors import InvalidParameterError
from retain.i18n import t

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["REJECT_COLUMNS", "Quarantine", "read_rejects"]

REJECT_COLUMNS = (
    "batch_id",
    "table_name",
    "file",
    "row",
    "column",
    "rule",
    "value",
    "message",
    "hint",
    "record",
)
"""The columns of ``rejects``, in the order they are shown and exported."""


@dataclass(frozen=True)
class Quarantine:
    """One batch's rejected rows with what is known of the batch."""

    batch_id: str | None
    """``None`` when nothing was ever quarantined."""
    table: str | None
    source: str | None
    started_at: Any
    rows: pd.DataFrame
    """One row per broken rule (a row breaking two rules appears twice), file and line order."""
    batches: list[str]
    """Every batch with rejects, newest first (to say which ones exist)."""


def read_rejects(con: BaseBackend, batch: str | None = None) -> Quarantine:
    """The rejected rows of ``batch`` (default: the newest batch that rejected rows).

    Raises
    ------
    InvalidParameterError
        ``batch`` names no batch with rejected rows (the hint lists the newest ones).
    """
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    if not wh.table_exists(con, "rejects"):
        return Quarantine(None, None, None, None, empty, [])
    rejects = wh.read_table(con, "rejects")
    per_batch = rejects.group_by("batch_id").aggregate(table_name=rejects.table_name.max())
    if wh.table_exists(con, "ingest_batches"):
        batches = wh.read_table(con, "ingest_batches").select("batch_id", "source", "started_at")
        per_batch = per_batch.left_join(batches, "batch_id").select(
            per_batch.batch_id, per_batch.table_name, batches.source, batches.started_at
        )
    known = per_batch.to_pandas()
    if "started_at" not in known.columns:
        known["started_at"] = pd.NaT
        known["source"] = None
    # Batch ids start with their UTC start time, so they break ties and stand in for a lost
    # batch record.
    known = known.sort_values(["started_at", "batch_id"], ascending=False, na_position="last")
    ids = [str(b) for b in known.batch_id]
    if not ids:
        return Quarantine(None, None, None, None, empty, [])
    chosen = ids[0] if batch is None else batch
    if chosen not in ids:
        raise InvalidParameterError(
            t("ingest.rejects_no_batch", batch=chosen),
            hint=t("ingest.rejects_no_batch_hint", batches=", ".join(ids[:5])),
        )
    info = known[known.batch_id == chosen].iloc[0]
    rows = (
        rejects.filter(rejects.batch_id == chosen)
        .select(*REJECT_COLUMNS)
        .order_by(["file", "row", "column", "rule"])
        .to_pandas()
    )
    return Quarantine(
        chosen,
        str(info.table_name),
        None if pd.isna(info.source) else str(info.source),
        info.started_at,
        rows,
        ids,
    )
