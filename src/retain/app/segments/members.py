"""A saved segment's customers and its size at month ends, as the API and the pages show them.

The segment is read from the app database (:func:`~retain.app.segments.service.stored_query`,
its references to other segments expanded) and evaluated in the warehouse by
:mod:`retain.targeting.segments.saved`; nothing about who belongs is decided here. The CSV of a
segment's customers is an export: it is audited (who, which segment, how many rows).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from retain.app._lines import line_named
from retain.app.audit import service as audit
from retain.app.segments import service
from retain.app.segments.models import SavedSegment
from retain.errors import InvalidParameterError
from retain.facts import DateLike
from retain.i18n import t
from retain.targeting.export import csv_cell
from retain.targeting.segments.saved import members_of, size_history

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from retain.app.deps import LockedWarehouse
    from retain.config import Settings

__all__ = ["MAX_PAGE", "Members", "export_csv", "members", "sizes"]

MAX_PAGE = 10_000
"""The most customer ids one JSON page holds (the CSV holds them all)."""


@dataclass(frozen=True)
class Members:
    """A slice of a segment's customers (sorted ids), their total and the date they hold on."""

    ids: list[str]
    total: int
    as_of: pd.Timestamp | None


def members(
    segment: SavedSegment,
    warehouse: LockedWarehouse,
    *,
    settings: Settings,
    as_of: DateLike | None = None,
    definition: str | None = None,
    offset: int = 0,
    limit: int | None = 1000,
) -> Members:
    """``limit`` of the segment's customer ids from ``offset`` (all when None), sorted."""
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise InvalidParameterError(
            t("segments.rule_bad_count", path="limit", low=1, high=MAX_PAGE, value=limit),
            code="parameter.limit",
        )
    line = line_named(settings, definition)
    query = service.stored_query(segment)
    table, stamp = members_of(
        warehouse.con, query, line=line, as_of=as_of, tables=warehouse.reads.tables()
    )
    con = warehouse.con
    total = int(con.execute(table.count()))
    ordered = table.order_by("customer_id")
    if limit is not None:
        ordered = ordered.limit(limit, offset=offset)
    ids = [str(v) for v in con.to_pyarrow(ordered).column("customer_id").to_pylist()]
    return Members(ids=ids, total=total, as_of=stamp)


def export_csv(
    session: Session,
    segment: SavedSegment,
    warehouse: LockedWarehouse,
    *,
    settings: Settings,
    actor: audit.Actor,
    as_of: DateLike | None = None,
    definition: str | None = None,
) -> Iterator[str]:
    """Every customer id of the segment as CSV (``customer_id`` header), audited as an export.

    An id a spreadsheet would read as a formula gets a leading ``'``, as in the at-risk CSV.
    """
    found = members(
        segment, warehouse, settings=settings, as_of=as_of, definition=definition, limit=None
    )
    audit.record(
        session,
        actor,
        "segment.export",
        ("segment", segment.id),
        name=segment.name,
        rows=found.total,
        as_of=found.as_of.isoformat() if found.as_of is not None else None,
    )

    def chunks() -> Iterator[str]:
        for start in range(0, max(len(found.ids), 1), 10_000):
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            if start == 0:
                writer.writerow(["customer_id"])
            writer.writerows([csv_cell(cid)] for cid in found.ids[start : start + 10_000])
            yield buffer.getvalue()

    return chunks()


def sizes(
    segment: SavedSegment,
    warehouse: LockedWarehouse,
    *,
    settings: Settings,
    months: int = 12,
    end: DateLike | None = None,
    definition: str | None = None,
) -> pd.DataFrame:
    """``as_of, customers``: the segment's rule evaluated at ``months`` month ends."""
    line = line_named(settings, definition)
    query = service.stored_query(segment)
    return size_history(warehouse.con, query, name=segment.name, line=line, months=months, end=end)
