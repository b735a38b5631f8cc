"""The at-risk list: customers most likely to leave, with what they are worth and why.

Each customer's latest churn score for one definition, joined with the latest CLV and the
customer's profile, valued with :func:`~retain.targeting.value.value_at_risk`, filtered and
ordered as an :class:`~retain.targeting.query.AtRiskQuery` says, and read one page at a time
with a keyset cursor. :func:`at_risk_summary` aggregates the same scored table for the overview,
so the headline and the list count the same customers and the same value.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from retain import warehouse as wh
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.models.churn.reasons import RenderedReason, render_stored_reasons
from retain.targeting._cursor import encode_cursor
from retain.targeting.query import AtRiskQuery
from retain.targeting.scores import latest_churn_scores, latest_clv_scores
from retain.targeting.value import total_value_at_risk, value_at_risk

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "AtRiskPage",
    "AtRiskRow",
    "at_risk",
    "at_risk_summary",
    "at_risk_table",
    "ordered",
    "runnable",
    "scored_customers",
    "to_row",
]


@dataclass(frozen=True)
class AtRiskRow:
    """One customer on the at-risk list. ``email``/``phone`` are None unless contact is shown."""

    customer_id: str
    probability: float
    risk_band: str | None
    at_risk_value: float
    clv: float | None
    currency: str | None
    probability_alive: float | None
    country: str | None
    acquisition_channel: str | None
    email: str | None
    phone: str | None
    reasons: list[RenderedReason]
    as_of: dt.datetime | None
    model_version: str | None


@dataclass(frozen=True)
class AtRiskPage:
    """One page of the list; ``next_cursor`` asks for the next one (None on the last page)."""

    rows: list[AtRiskRow]
    total: int
    """How many customers match the query's filters, on every page."""
    next_cursor: str | None
    definition: str


def _has(con: BaseBackend, name: str, tables: frozenset[str] | None) -> bool:
    return name in tables if tables is not None else wh.table_exists(con, name)


def runnable(query: AtRiskQuery) -> str:
    """The query's churn definition, once the query can run (definition set, segment applied)."""
    if query.segment is not None:
        raise InvalidParameterError(
            t("targeting.unresolved_segment", name=query.segment),
            hint=t("targeting.unresolved_segment_hint"),
            code="parameter.segment",
        )
    if query.definition is None:
        raise InvalidParameterError(
            t("targeting.no_definition"),
            hint=t("targeting.no_definition_hint"),
            code="parameter.definition",
        )
    return query.definition


def scored_customers(
    con: BaseBackend, *, definition: str, tables: frozenset[str] | None = None
) -> ir.Table:
    """Latest churn score per customer for ``definition``, with the latest CLV and value at risk.

    Columns: the churn score's, plus ``clv``, ``currency``, ``probability_alive`` (null when the
    customer has no CLV score or the warehouse no ``clv_scores``) and ``at_risk_value``.
    ``tables`` is the set of warehouse tables when the caller knows it (saves a lookup).
    """
    churn = latest_churn_scores(con, definition)
    if _has(con, "clv_scores", tables):
        clv = latest_clv_scores(con).select(
            _cid="customer_id",
            clv="clv",
            currency="currency",
            probability_alive="probability_alive",
        )
        churn = churn.left_join(clv, churn.customer_id == clv._cid).drop("_cid")
    else:
        churn = churn.mutate(
            clv=ibis.null("float64"),
            currency=ibis.null("string"),
            probability_alive=ibis.null("float64"),
        )
    return churn.mutate(at_risk_value=value_at_risk(churn.probability, churn.clv))


def at_risk_summary(
    con: BaseBackend, *, definition: str, tables: frozenset[str] | None = None
) -> ir.Table:
    """One row: customers scored, how many are high / medium risk, total value at risk, as_of.

    The overview's headline, aggregated from :func:`scored_customers` like the list itself.
    """
    scored = scored_customers(con, definition=definition, tables=tables)
    return scored.aggregate(
        scored=scored.count(),
        high=(scored.risk_band == "high").cast("int64").sum(),
        medium=(scored.risk_band == "medium").cast("int64").sum(),
        at_risk_value=total_value_at_risk(scored.probability, scored.clv),
        as_of=scored.as_of.max(),
    )


def at_risk_table(
    con: BaseBackend, query: AtRiskQuery, *, tables: frozenset[str] | None = None
) -> ir.Table:
    """Every customer the query's filters keep, with profile columns, in no particular order."""
    table = scored_customers(con, definition=runnable(query), tables=tables).select(
        "customer_id",
        "probability",
        "risk_band",
        "reasons",
        "as_of",
        "model_version",
        "clv",
        "currency",
        "probability_alive",
        "at_risk_value",
    )
    if _has(con, "customers", tables):
        cust = wh.read_table(con, "customers").select(
            _cid="customer_id",
            country="country",
            acquisition_channel="acquisition_channel",
            email="email",
            phone="phone",
        )
        table = table.left_join(cust, table.customer_id == cust._cid).drop("_cid")
    else:
        table = table.mutate(
            country=ibis.null("string"),
            acquisition_channel=ibis.null("string"),
            email=ibis.null("string"),
            phone=ibis.null("string"),
        )
    if query.risk_bands:
        table = table.filter(table.risk_band.isin(list(query.risk_bands)))
    if query.clv_min is not None:
        table = table.filter(table.clv >= query.clv_min)
    if query.clv_max is not None:
        table = table.filter(table.clv <= query.clv_max)
    if query.country:
        table = table.filter(table.country == query.country)
    if query.channel:
        table = table.filter(table.acquisition_channel == query.channel)
    return table


def ordered(table: ir.Table, query: AtRiskQuery) -> ir.Table:
    """``table`` in the query's order, starting after its cursor; ``_sort`` holds the key.

    Ties (and customers without the sorted value, taken as 0) are ordered by customer id, so
    the order is total and a cursor of (sort value, customer id) resumes exactly.
    """
    after = query.after()
    if query.sort == "customer_id":
        key = table.customer_id
        if after is not None:
            table = table.filter(key < after[1] if query.descending else key > after[1])
        table = table.mutate(_sort=ibis.null("float64"))
        return table.order_by(key.desc() if query.descending else key.asc())
    table = table.mutate(_sort=table[query.sort].fill_null(0.0).cast("float64"))
    if after is not None:
        value, last = after
        beyond = table._sort < value if query.descending else table._sort > value
        table = table.filter(beyond | ((table._sort == value) & (table.customer_id > last)))
    order = table._sort.desc() if query.descending else table._sort.asc()
    return table.order_by([order, table.customer_id.asc()])


def _number(value: Any) -> float | None:
    """A float, with null and NaN read as unknown."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def to_row(record: dict[str, Any], *, pii: bool, lang: str | None) -> AtRiskRow:
    """A row of :func:`at_risk_table` as read back (a dict per row) as an :class:`AtRiskRow`."""
    return AtRiskRow(
        customer_id=record["customer_id"],
        probability=float(record["probability"]),
        risk_band=record.get("risk_band"),
        at_risk_value=_number(record.get("at_risk_value")) or 0.0,
        clv=_number(record.get("clv")),
        currency=record.get("currency"),
        probability_alive=_number(record.get("probability_alive")),
        country=record.get("country"),
        acquisition_channel=record.get("acquisition_channel"),
        email=record.get("email") if pii else None,
        phone=record.get("phone") if pii else None,
        reasons=render_stored_reasons(record.get("reasons"), lang=lang),
        as_of=record.get("as_of"),
        model_version=record.get("model_version"),
    )


def at_risk(
    con: BaseBackend,
    query: AtRiskQuery,
    *,
    pii: bool,
    lang: str | None = None,
    tables: frozenset[str] | None = None,
) -> AtRiskPage:
    """One page of the at-risk list (this executes two queries: the count and the page).

    Parameters
    ----------
    con
        The warehouse backend (with ``churn_scores``; ``clv_scores`` and ``customers`` are
        joined when present).
    query
        What to show, with its definition set and any saved segment applied.
    pii
        Whether rows carry the customer's e-mail and phone.
    lang
        The language reasons are rendered in (default: the current one).
    tables
        The warehouse's table names when the caller knows them (saves a lookup).
    """
    table = at_risk_table(con, query, tables=tables)
    total = int(table.count().execute())
    records = ordered(table, query).limit(query.limit + 1).to_pyarrow().to_pylist()
    next_cursor = None
    if len(records) > query.limit:
        records = records[: query.limit]
        last = records[-1]
        next_cursor = encode_cursor(last["_sort"], last["customer_id"])
    return AtRiskPage(
        rows=[to_row(r, pii=pii, lang=lang) for r in records],
        total=total,
        next_cursor=next_cursor,
        definition=runnable(query),
    )
