"""The merge on Spark and other engines without multi-table transactions: rewrite through Ibis.

:func:`retain.warehouse.merge.upsert` hands these engines to :func:`upsert_rewrite`, which
computes the same counts with Ibis and rewrites the merged table atomically (one table at a
time). :func:`plain_strings` readies a pandas frame for Spark Connect's upload.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from retain.warehouse.merge import UpsertCounts
from retain.warehouse.tables import write_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["plain_strings", "upsert_rewrite"]


def _arrow_text(dtype: Any) -> bool:
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    return isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)


def plain_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with Arrow-backed text columns (``string[pyarrow]``) as Python strings.

    Spark Connect uploads a pandas frame column by column through numpy, where an Arrow-backed
    column arrives as a chunked array that PySpark 4.0 cannot batch.
    """
    text = [c for c in frame.columns if _arrow_text(frame[c].dtype)]
    if not text:
        return frame
    return frame.assign(**{c: frame[c].astype(object).where(frame[c].notna(), None) for c in text})


def upsert_rewrite(
    con: BaseBackend,
    name: str,
    staged: str | ir.Table,
    *,
    key: Sequence[str],
    update: Sequence[str] | None,
    appends: Sequence[tuple[str, str | ir.Table]],
    batch: dict[str, Any] | None,
    prune: Sequence[str] = (),
) -> UpsertCounts:
    """The merge on engines without multi-table transactions: rewrite through Ibis.

    Same arguments and counts as :func:`retain.warehouse.merge.upsert`; the merged table is
    rewritten through :func:`~retain.warehouse.tables.write_table` (atomic per table), then the
    appends and the batch row are written.
    """
    new = con.table(staged) if isinstance(staged, str) else staged
    old = con.table(name)
    cols = list(new.columns)
    update = [c for c in (update if update is not None else cols) if c not in key and c in cols]
    old_cols = old.select(
        *key, _old_present=ibis.literal(True), **{f"_old_{c}": old[c] for c in update}
    )
    cmp = new.left_join(old_cols, list(key)).select(
        new, old_cols._old_present, *[old_cols[f"_old_{c}"] for c in update]
    )
    differs = ibis.literal(False)
    for c in update:
        differs = differs | ~cmp[c].cast(old.schema()[c]).identical_to(cmp[f"_old_{c}"])
    stats = cmp.aggregate(
        inserted=cmp._old_present.isnull().sum(),
        updated=(cmp._old_present.notnull() & differs).sum(),
        unchanged=(cmp._old_present.notnull() & ~differs).sum(),
    ).to_pandas()
    keep = old.anti_join(new, list(key)).select(*old.columns)
    deleted = 0
    if prune:
        scopes = new.select(*prune).distinct()
        stale = keep.semi_join(scopes, list(prune))
        deleted = int(stale.count().to_pyarrow().as_py())
        keep = keep.anti_join(scopes, list(prune)).select(*old.columns)
    inserted, updated, unchanged = (
        int(stats[c].fillna(0).iloc[0]) for c in ("inserted", "updated", "unchanged")
    )
    counts = UpsertCounts(inserted, updated, unchanged, deleted)
    olds = old.select(*key, **{f"_keep_{c}": old[c] for c in old.columns if c not in cols})
    carried = new.left_join(olds, list(key))
    fill = [
        (carried[c].cast(old.schema()[c]) if c in cols else carried[f"_keep_{c}"]).name(c)
        for c in old.columns
    ]
    write_table(con, name, keep.union(carried.select(*fill)))
    for target, source in appends:
        frame = con.table(source) if isinstance(source, str) else source
        write_table(con, target, frame.to_pyarrow(), mode="append")
    if batch is not None:
        row = {
            **batch,
            "rows_inserted": counts.inserted,
            "rows_updated": counts.updated,
            "rows_unchanged": counts.unchanged,
        }
        schema = con.table("ingest_batches").schema()
        mem = ibis.memtable(pd.DataFrame([row]))
        write_table(
            con,
            "ingest_batches",
            mem.select(*[mem[c].cast(schema[c]).name(c) for c in row]),
            mode="append",
        )
    return counts
