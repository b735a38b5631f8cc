"""Segment membership stored with its date, and movement between two dates.

Memberships live in the warehouse table ``segment_memberships``
(``customer_id, scheme, segment, as_of``). Storing a scheme's memberships for a date replaces
that (scheme, date) and keeps every other one, so re-running a date is safe and history builds
up one date at a time. Movement compares the customers present at both dates: a matrix of
from-segment x to-segment counts (its total is that population) and the customer list of one
transition ("who moved from loyal to at risk").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain import warehouse as wh
from retain.errors import InvalidParameterError, NotFoundError
from retain.facts import DateLike, as_timestamp
from retain.i18n import t
from retain.schema import SEGMENT_MEMBERSHIPS
from retain.targeting.segments.rules import SEGMENT_NAMES

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "MEMBERSHIPS",
    "MEMBERSHIP_SCHEMA",
    "check_segment",
    "membership_dates",
    "memberships",
    "movement_matrix",
    "movers",
    "require_stored",
    "store_memberships",
]

MEMBERSHIPS = "segment_memberships"
"""The warehouse table of stored memberships."""

MEMBERSHIP_SCHEMA = SEGMENT_MEMBERSHIPS.ibis_schema()
"""Its columns (``retain.schema.SEGMENT_MEMBERSHIPS``): one row per (customer, scheme, date)."""

_SCOPE = ("scheme", "as_of")


def _scheme(scheme: str) -> str:
    if scheme not in SEGMENT_NAMES:
        raise InvalidParameterError(
            t("segments.unknown_scheme", scheme=scheme, choices=", ".join(SEGMENT_NAMES)),
            hint=t("segments.unknown_scheme_hint"),
        )
    return scheme


def check_segment(scheme: str, segment: str) -> str:
    """``segment`` if it is one of ``scheme``'s segment names, else a clear error."""
    names = SEGMENT_NAMES[_scheme(scheme)]
    if segment not in names:
        raise InvalidParameterError(
            t("segments.unknown_segment", segment=segment, scheme=scheme, choices=", ".join(names)),
            hint=t("segments.unknown_segment_hint"),
        )
    return segment


def store_memberships(
    con: BaseBackend, scheme: str, as_of: DateLike, members: ir.Table | pd.DataFrame
) -> int:
    """Write ``members`` (``customer_id, segment``) as ``scheme``'s memberships on ``as_of``.

    Replaces what was stored for that scheme and date and keeps every other one, in one
    transaction on DuckDB and PostgreSQL, through :func:`retain.warehouse.replace_scope` (the
    one writer of the tables retain derives, keyed by customer, scheme and date as the schema's
    ``segment_memberships`` says). Returns the rows written.
    """
    _scheme(scheme)
    stamp = as_timestamp(as_of)
    frame = members.to_pandas() if isinstance(members, ir.Table) else members
    rows = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "scheme": scheme,
            "segment": frame["segment"].astype(str),
            "as_of": stamp,
        }
    )
    if rows.empty:
        # Nothing staged means nothing to prune by: drop the (scheme, date) explicitly.
        wh.create_tables(con, [MEMBERSHIPS])
        old = con.table(MEMBERSHIPS)
        keep = old.filter(~((old.scheme == scheme) & (old.as_of == stamp))).to_pandas()
        wh.write_table(con, MEMBERSHIPS, ibis.memtable(keep, schema=MEMBERSHIP_SCHEMA))
        return 0
    wh.replace_scope(con, MEMBERSHIPS, rows, scope=_SCOPE)
    return len(rows)


def memberships(
    con: BaseBackend, scheme: str, as_of: DateLike, segment: str | None = None
) -> ir.Table:
    """``customer_id, segment`` stored for ``scheme`` on ``as_of`` (one segment if given)."""
    _scheme(scheme)
    table = wh.read_table(con, MEMBERSHIPS)
    rows = table.filter((table.scheme == scheme) & (table.as_of == as_timestamp(as_of)))
    if segment is not None:
        rows = rows.filter(rows.segment == check_segment(scheme, segment))
    return rows.select("customer_id", "segment")


def membership_dates(con: BaseBackend, scheme: str) -> list[pd.Timestamp]:
    """The dates ``scheme`` has stored memberships for, oldest first."""
    _scheme(scheme)
    if not wh.table_exists(con, MEMBERSHIPS):
        return []
    table = con.table(MEMBERSHIPS)
    dates = table.filter(table.scheme == scheme).select("as_of").distinct().to_pandas()
    return sorted(pd.Timestamp(v) for v in dates["as_of"])


def require_stored(con: BaseBackend, scheme: str, as_of: DateLike) -> pd.Timestamp:
    """``as_of`` as a timestamp if ``scheme`` has memberships stored for it, else NotFoundError."""
    stamp = as_timestamp(as_of)
    dates = membership_dates(con, scheme)
    if stamp not in dates:
        day = stamp.date().isoformat()
        stored = ", ".join(d.date().isoformat() for d in dates) or "-"
        raise NotFoundError(
            t("segments.nothing_stored", scheme=scheme, date=day),
            hint=t(
                "segments.nothing_stored_hint",
                command=scheme.replace("_", "-"),
                date=day,
                dates=stored,
            ),
        )
    return stamp


def _pairs(con: BaseBackend, scheme: str, start: DateLike, end: DateLike) -> ir.Table:
    before = memberships(con, scheme, start)
    after = memberships(con, scheme, end)
    return before.inner_join(after, "customer_id").select(
        before.customer_id, from_segment=before.segment, to_segment=after.segment
    )


def movement_matrix(con: BaseBackend, scheme: str, start: DateLike, end: DateLike) -> pd.DataFrame:
    """From-segment x to-segment customer counts between two stored dates.

    Rows and columns are the scheme's segments in their order (zeros kept); only customers
    stored at both dates count, so the matrix total is that population.
    """
    counts = (
        _pairs(con, scheme, start, end)
        .group_by(["from_segment", "to_segment"])
        .aggregate(customers=ibis._.count())
        .to_pandas()
    )
    names = list(SEGMENT_NAMES[scheme])
    extra = sorted((set(counts["from_segment"]) | set(counts["to_segment"])) - set(names))
    order = names + extra
    matrix: pd.DataFrame = counts.pivot_table(
        index="from_segment", columns="to_segment", values="customers", aggfunc="sum", fill_value=0
    )
    matrix = matrix.reindex(index=order, columns=order, fill_value=0).astype("int64")
    matrix.index.name = "from_segment"
    matrix.columns.name = "to_segment"
    return matrix


def movers(
    con: BaseBackend,
    scheme: str,
    start: DateLike,
    end: DateLike,
    *,
    from_segment: str | None = None,
    to_segment: str | None = None,
) -> ir.Table:
    """``customer_id, from_segment, to_segment`` of customers stored at both dates.

    ``from_segment`` / ``to_segment`` keep one transition ("from loyal to at_risk"); with
    neither, every customer whose segment changed.
    """
    pairs = _pairs(con, scheme, start, end)
    for name in (from_segment, to_segment):
        if name is not None:
            check_segment(scheme, name)
    if from_segment is None and to_segment is None:
        pairs = pairs.filter(pairs.from_segment != pairs.to_segment)
    if from_segment is not None:
        pairs = pairs.filter(pairs.from_segment == from_segment)
    if to_segment is not None:
        pairs = pairs.filter(pairs.to_segment == to_segment)
    return pairs.order_by("customer_id")
