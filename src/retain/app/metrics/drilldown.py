"""The customers behind one cohort cell, for the API, the dashboard page and its CSV export.

A :class:`CohortCell` names a cell of the cohort table as the API and the heatmap show it (the
cohort's first day, the period offset, the period, the mode, the business line and, for a table
split ``by`` a customer column or attribute, the group). :func:`retain.metrics.cohort_customers`
decides who is in it, so the list holds exactly the cell's ``active`` count. The export reuses
the at-risk export's rules: contact details only for roles that may see them, cells a
spreadsheet could read as a formula neutralised, every export audited.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from retain.app._frames import records
from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.metrics.service import customers_table, metric_inputs
from retain.targeting.export import CONTACT_COLUMNS, EXPORT_LIMIT, csv_cell

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend
    from sqlalchemy.orm import Session

    from retain.app.deps import LockedWarehouse, Principal
    from retain.config import Settings

__all__ = ["LIST_COLUMNS", "CohortCell", "CohortExport", "export", "members"]

LIST_COLUMNS = ("customer_id", "acquired_at", "country", "acquisition_channel")
"""What the list shows of each customer (no contact details: the 360 has them)."""
_CHUNK_ROWS = 1000


@dataclass(frozen=True)
class CohortCell:
    """One cell of the cohort table: whose customers are listed."""

    cohort: str
    period_index: int
    period: str = "month"
    mode: Literal["classic", "unbounded"] = "classic"
    definition: str | None = None
    by: str | None = None
    group: str | None = None
    """The ``by`` group's value; None is the group of customers without one."""

    def params(self) -> dict[str, Any]:
        """The cell as query parameters (for links and the audit log)."""
        out: dict[str, Any] = {
            "cohort": self.cohort,
            "period_index": self.period_index,
            "period": self.period,
            "mode": self.mode,
        }
        if self.definition is not None:
            out["definition"] = self.definition
        if self.by is not None:
            out["by"] = self.by
            if self.group is not None:
                out["group"] = self.group
        return out


def _ids(con: BaseBackend, settings: Settings, cell: CohortCell) -> ir.Table:
    """``customer_id`` of the cell's customers, ordered."""
    from retain.metrics import cohort_customers

    orders, activity = metric_inputs(con, settings, cell.definition)
    return cohort_customers(
        orders,
        cohort=cell.cohort,
        period_index=cell.period_index,
        period=cell.period,
        mode=cell.mode,
        activity=activity,
        tz=settings.time_zone,
        customers=customers_table(con) if cell.by else None,
        where={cell.by: cell.group} if cell.by else None,
    )


def _with_details(con: BaseBackend, ids: ir.Table, columns: tuple[str, ...]) -> ir.Table:
    """The ids with the ``columns`` of ``customers`` that exist (NULL for a customer without)."""
    customers = customers_table(con)
    present = [c for c in columns[1:] if customers is not None and c in customers.columns]
    if customers is None or not present:
        return ids
    picked = customers.select(
        customer_id=customers.customer_id.cast("string"), **{c: customers[c] for c in present}
    )
    picked = picked.group_by("customer_id").agg(**{c: picked[c].max() for c in present})
    joined = ids.left_join(picked, "customer_id")
    return joined.select("customer_id", *present).order_by("customer_id")


def members(
    con: BaseBackend, settings: Settings, cell: CohortCell, *, limit: int, offset: int = 0
) -> dict[str, Any]:
    """One page of the cell's customers: ``total``, ``data`` (:data:`LIST_COLUMNS`), paging."""
    ids = _ids(con, settings, cell)
    total = int(ids.count().to_pandas())
    page = _with_details(con, ids, LIST_COLUMNS).limit(limit, offset=offset)
    return {
        **cell.params(),
        "total": total,
        "limit": limit,
        "offset": offset,
        "data": records(page.to_pandas()),
    }


@dataclass(frozen=True)
class CohortExport:
    """A drill-down export ready to stream: its columns, row count and CSV text in chunks."""

    columns: tuple[str, ...]
    total: int
    chunks: Iterator[str]


def export(
    session: Session,
    warehouse: LockedWarehouse,
    cell: CohortCell,
    *,
    settings: Settings,
    principal: Principal,
) -> CohortExport:
    """Every customer of the cell as CSV, audited (who exported which cell, how many rows).

    Contact details (e-mail, phone) only for roles that may see them, as the at-risk export.
    """
    pii = principal.may(Permission.customers_pii)
    columns = LIST_COLUMNS + (CONTACT_COLUMNS if pii else ())
    ids = _ids(warehouse.con, settings, cell)
    data = _with_details(warehouse.con, ids, columns).limit(EXPORT_LIMIT).to_pyarrow()
    audit.record(
        session,
        principal,
        "cohort.export",
        ("cohort", cell.cohort),
        rows=data.num_rows,
        fields=list(CONTACT_COLUMNS if pii else ()),
        **cell.params(),
    )

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for batch in data.to_batches(max_chunksize=_CHUNK_ROWS):
            for record in batch.to_pylist():
                writer.writerow([csv_cell(record.get(c)) for c in columns])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue()

    return CohortExport(columns=columns, total=data.num_rows, chunks=chunks())
