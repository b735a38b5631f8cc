"""The at-risk list and its CSV export.

Latest churn scores joined with CLV and the customer, filtered, sorted and
cursor-paged; the same query feeds the CSV export.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from retain import warehouse as wh
from retain.app._frames import records
from retain.app.customers.scores import latest_churn, latest_clv, render_reasons
from retain.errors import InvalidParameterError
from retain.i18n import t

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["AtRiskFilter", "export_csv", "list_at_risk"]

RISK_BANDS = ("high", "medium", "low")
SORT_KEYS = ("probability", "clv", "at_risk_value", "customer_id")
EXPORT_LIMIT = 1_000_000


@dataclass(frozen=True)
class AtRiskFilter:
    """What to show: filters, sort and page."""

    definition: str
    risk_bands: tuple[str, ...] = ()
    clv_min: float | None = None
    clv_max: float | None = None
    country: str | None = None
    channel: str | None = None
    sort: str = "at_risk_value"
    descending: bool = True
    limit: int = 50
    cursor: str | None = None

    def with_segment(self, filters: dict[str, Any]) -> AtRiskFilter:
        """These filters narrowed by a saved segment's filters (the segment fills what is unset)."""
        bands = self.risk_bands or tuple(filters.get("risk_bands") or ())
        return replace(
            self,
            risk_bands=tuple(bands),
            clv_min=self.clv_min if self.clv_min is not None else filters.get("clv_min"),
            clv_max=self.clv_max if self.clv_max is not None else filters.get("clv_max"),
            country=self.country or filters.get("country"),
            channel=self.channel or filters.get("channel"),
        )

    def check(self) -> None:
        """Reject unknown bands and sort keys, and an inverted CLV range."""
        for band in self.risk_bands:
            if band not in RISK_BANDS:
                raise InvalidParameterError(
                    t(
                        "app.bad_choice",
                        name="risk_band",
                        value=band,
                        choices=", ".join(RISK_BANDS),
                    ),
                    code="parameter.risk_band",
                )
        if self.sort not in SORT_KEYS:
            raise InvalidParameterError(
                t("app.bad_choice", name="sort", value=self.sort, choices=", ".join(SORT_KEYS)),
                code="parameter.sort",
            )
        if self.clv_min is not None and self.clv_max is not None and self.clv_min > self.clv_max:
            raise InvalidParameterError(
                t("app.bad_range", low=self.clv_min, high=self.clv_max), code="parameter.clv_range"
            )


def _encode_cursor(value: Any, customer_id: str) -> str:
    raw = json.dumps([value, customer_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, customer_id = json.loads(raw)
        if not isinstance(customer_id, str) or not (
            value is None or isinstance(value, int | float | str)
        ):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidParameterError(
            t("app.bad_cursor"), hint=t("app.bad_cursor_hint"), code="parameter.cursor"
        ) from None
    return value, customer_id


def _has(con: BaseBackend, name: str, tables: frozenset[str] | None) -> bool:
    return name in tables if tables is not None else wh.table_exists(con, name)


def _base(con: BaseBackend, flt: AtRiskFilter, tables: frozenset[str] | None = None) -> ir.Table:
    churn = latest_churn(con, definition=flt.definition)
    table = churn.select(
        "customer_id", "probability", "risk_band", "reasons", "as_of", "model_version"
    )
    if _has(con, "clv_scores", tables):
        clv = latest_clv(con).select(
            _cid="customer_id",
            clv="clv",
            currency="currency",
            probability_alive="probability_alive",
        )
        table = table.left_join(clv, table.customer_id == clv._cid).drop("_cid")
    else:
        table = table.mutate(
            clv=ibis.null("float64"),
            currency=ibis.null("string"),
            probability_alive=ibis.null("float64"),
        )
    if _has(con, "customers", tables):
        cust = wh.read_table(con, "customers").select(
            _cid2="customer_id",
            country="country",
            acquisition_channel="acquisition_channel",
            email="email",
            phone="phone",
        )
        table = table.left_join(cust, table.customer_id == cust._cid2).drop("_cid2")
    else:
        table = table.mutate(
            country=ibis.null("string"),
            acquisition_channel=ibis.null("string"),
            email=ibis.null("string"),
            phone=ibis.null("string"),
        )
    table = table.mutate(at_risk_value=table.probability * table.clv.fill_null(0.0))
    if flt.risk_bands:
        table = table.filter(table.risk_band.isin(list(flt.risk_bands)))
    if flt.clv_min is not None:
        table = table.filter(table.clv >= flt.clv_min)
    if flt.clv_max is not None:
        table = table.filter(table.clv <= flt.clv_max)
    if flt.country:
        table = table.filter(table.country == flt.country)
    if flt.channel:
        table = table.filter(table.acquisition_channel == flt.channel)
    return table


def _sorted(table: ir.Table, flt: AtRiskFilter) -> tuple[ir.Table, str]:
    if flt.sort == "customer_id":
        key = table.customer_id
        if flt.cursor:
            _, last = _decode_cursor(flt.cursor)
            table = table.filter(key < last if flt.descending else key > last)
        return table.order_by(key.desc() if flt.descending else key.asc()), "customer_id"
    table = table.mutate(_sort=table[flt.sort].fill_null(0.0).cast("float64"))
    if flt.cursor:
        value, last = _decode_cursor(flt.cursor)
        if not isinstance(value, int | float):
            raise InvalidParameterError(t("app.bad_cursor"), code="parameter.cursor")
        v = float(value)
        after = table._sort < v if flt.descending else table._sort > v
        table = table.filter(after | ((table._sort == v) & (table.customer_id > last)))
    order = table._sort.desc() if flt.descending else table._sort.asc()
    return table.order_by([order, table.customer_id.asc()]), "_sort"


def _row(record: dict[str, Any], *, pii: bool, lang: str | None) -> dict[str, Any]:
    record["reasons"] = render_reasons(record.get("reasons"), lang=lang)
    if not pii:
        record["email"] = None
        record["phone"] = None
    record.pop("_sort", None)
    record["at_risk_value"] = record.get("at_risk_value") or 0.0
    return record


def list_at_risk(
    con: BaseBackend,
    flt: AtRiskFilter,
    *,
    pii: bool,
    lang: str | None = None,
    tables: frozenset[str] | None = None,
) -> dict[str, Any]:
    """One page: ``{"data", "count", "next_cursor", "definition"}``.

    ``tables`` is the set of warehouse tables when the caller knows it (saves a lookup).
    """
    flt.check()
    base = _base(con, flt, tables)
    count = int(base.count().to_pandas())
    ordered, key = _sorted(base, flt)
    frame = ordered.limit(flt.limit + 1).to_pandas()
    rows = records(frame)
    next_cursor = None
    if len(rows) > flt.limit:
        rows = rows[: flt.limit]
        last = rows[-1]
        next_cursor = _encode_cursor(
            last.get(key) if key != "customer_id" else None, last["customer_id"]
        )
    data = [_row(r, pii=pii, lang=lang) for r in rows]
    return {"data": data, "count": count, "next_cursor": next_cursor, "definition": flt.definition}


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


def _cell(value: Any) -> Any:
    """A CSV cell; text starting with a formula character is quoted so spreadsheets show it."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(
    con: BaseBackend,
    flt: AtRiskFilter,
    *,
    pii: bool,
    lang: str | None = None,
    tables: frozenset[str] | None = None,
) -> tuple[int, Iterator[str]]:
    """Every row matching the filters as CSV text chunks (reasons as translated text).

    Returns the row count and the chunks. E-mail and phone columns are included only when
    ``pii`` is true.
    """
    flt.check()
    ordered, _ = _sorted(_base(con, replace(flt, cursor=None), tables), replace(flt, cursor=None))
    frame = ordered.limit(EXPORT_LIMIT).to_pandas()
    columns = list(EXPORT_COLUMNS) + (["email", "phone"] if pii else [])
    rows = records(frame)

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for n, rec in enumerate(rows, start=1):
            rec["reasons"] = "; ".join(
                r["text"] for r in render_reasons(rec.get("reasons"), lang=lang)
            )
            writer.writerow([_cell(rec.get(c)) for c in columns])
            if n % 1000 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return len(rows), chunks()
