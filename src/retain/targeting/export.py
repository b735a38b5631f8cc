"""The at-risk list as CSV: every row an :class:`~retain.targeting.query.AtRiskQuery` keeps.

The rows are read from the warehouse when :func:`export_at_risk` is called (so a caller that
serialises warehouse access holds its lock only then); the CSV text is produced lazily, in
chunks, while the caller streams it. Reasons are written as text in the reader's language.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retain.config import ChurnDefinition
from retain.i18n import get_language
from retain.models.churn.reasons import render_stored_reasons
from retain.targeting.at_risk import at_risk_table, ordered, runnable
from retain.targeting.query import AtRiskQuery

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "CONTACT_COLUMNS",
    "EXPORT_COLUMNS",
    "EXPORT_LIMIT",
    "AtRiskExport",
    "csv_cell",
    "export_at_risk",
]

EXPORT_LIMIT = 1_000_000
"""The most rows one export writes."""
EXPORT_COLUMNS = (
    "customer_id",
    "risk_band",
    "probability",
    "clv",
    "currency",
    "at_risk_value",
    "probability_alive",
    "country",
    "acquisition_channel",
    "reasons",
    "as_of",
    "model_version",
)
CONTACT_COLUMNS = ("email", "phone")
"""Written last, and only when the reader may see contact details."""
_CHUNK_ROWS = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""What a spreadsheet may read as the start of a formula: ASCII ``= + - @``, their full-width
forms (which Excel and LibreOffice fold to ASCII), and tab, carriage return or line feed."""


@dataclass(frozen=True)
class AtRiskExport:
    """An export ready to stream: its columns, row count and the CSV text in chunks."""

    definition: str
    columns: tuple[str, ...]
    total: int
    chunks: Iterator[str]


def csv_cell(value: Any) -> Any:
    """A CSV cell; text starting with a formula character gets a leading ``'`` (shown as text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_at_risk(
    con: BaseBackend,
    query: AtRiskQuery,
    *,
    pii: bool,
    lang: str | None = None,
    tables: frozenset[str] | None = None,
    line: ChurnDefinition | None = None,
    now: dt.datetime | None = None,
) -> AtRiskExport:
    """Every row the query keeps (its cursor and page size ignored), in its order, as CSV.

    Contact columns (e-mail, phone) are included only when ``pii`` is true. At most
    :data:`EXPORT_LIMIT` rows are written. ``line`` and ``now`` as in
    :func:`~retain.targeting.at_risk.at_risk`.
    """
    query = query.first_page()
    lang = lang or get_language()  # the chunks render later, perhaps in another context
    table = at_risk_table(con, query, tables=tables, pii=pii, line=line, now=now)
    rows = ordered(table, query).limit(EXPORT_LIMIT)
    data = rows.to_pyarrow()
    columns = EXPORT_COLUMNS + (CONTACT_COLUMNS if pii else ())

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for batch in data.to_batches(max_chunksize=_CHUNK_ROWS):
            for record in batch.to_pylist():
                reasons = render_stored_reasons(record.get("reasons"), lang=lang)
                record["reasons"] = "; ".join(r["text"] for r in reasons)
                writer.writerow([csv_cell(record.get(c)) for c in columns])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():  # no rows: the header alone
            yield buffer.getvalue()

    return AtRiskExport(
        definition=runnable(query), columns=columns, total=data.num_rows, chunks=chunks()
    )
