"""The at-risk list: customers most likely to leave, with what they are worth and why.

Each customer's score in one business line's latest scoring run (:func:`latest_run_as_of`),
joined with the latest CLV and the customer's profile, valued with
:func:`~retain.targeting.value.value_at_risk`, filtered and ordered as an
:class:`~retain.targeting.query.AtRiskQuery` says, and read one page at a time with a keyset
cursor. :func:`at_risk_summary` aggregates the same scored table for the overview, so the
headline and the list count the same customers and the same value.

Customers who have already churned are left out when the caller passes the line's
:class:`~retain.config.ChurnDefinition` (``line``). On a contractual line that is a customer
whose every subscription (on the line's plans) has ended by ``now``: their contract is over, so
there is nobody left to keep. A subscription ending later (a notice given, a contract running
out) keeps the customer on the list: that is who a save desk calls. A non-contractual line
leaves nobody out: its churn (no activity within the horizon) is never observed, only inferred,
and a lapsed shop customer is exactly who the score ranks; an inactivity cut-off against the
clock would also empty the list of any historical data set.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from retain import warehouse as wh
from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.i18n import get_language, t
from retain.models.churn.reasons import RenderedReason, render_stored_reasons
from retain.targeting._cursor import encode_cursor
from retain.targeting._frames import (
    JoinedFrames,
    line_key,
    page_key,
    share_frames,
    shared_frames,
)
from retain.targeting.query import TIE_BY_PROBABILITY, AtRiskQuery, reason_keys
from retain.targeting.scores import latest_churn_scores, latest_clv_scores, latest_run_as_of
from retain.targeting.segments.evaluate import segment_members
from retain.targeting.value import total_value_at_risk, value_at_risk

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "AtRiskPage",
    "AtRiskRow",
    "JoinedFrames",
    "at_risk",
    "at_risk_summary",
    "at_risk_table",
    "joined",
    "ordered",
    "runnable",
    "scored_customers",
    "share_frames",
    "to_row",
]


@dataclass(frozen=True)
class AtRiskRow:
    """One customer on the at-risk list. ``email``/``phone`` are None unless contact is shown."""

    customer_id: str
    probability: float
    risk_band: str | None
    at_risk_value: float | None
    """p(churn) x CLV; None where the CLV is unknown (shown as "n/a", never as 0)."""
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
    """The business line (churn definition) every row and number belongs to."""
    as_of: dt.datetime | None = None
    """The reference date of the line's latest scoring run, the one listed; None if none."""


def _attach(table: ir.Table, source: ir.Table | None, columns: dict[str, str]) -> ir.Table:
    """``table`` with ``columns`` of ``source`` joined by ``customer_id``, else typed nulls."""
    if source is None:
        return table.mutate(**{name: ibis.null(dtype) for name, dtype in columns.items()})
    picked = source.select(_cid="customer_id", **{name: name for name in columns})
    return table.left_join(picked, table.customer_id == picked._cid).drop("_cid")


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


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC).replace(tzinfo=None)


def without_churned(
    con: BaseBackend,
    scores: ir.Table,
    line: ChurnDefinition | None,
    *,
    now: dt.datetime | None = None,
    tables: frozenset[str] | None = None,
) -> ir.Table:
    """``scores`` less the customers who have already churned on ``line`` (module docstring)."""
    if line is None or line.kind != "contractual" or not _has(con, "subscriptions", tables):
        return scores
    subs = wh.read_table(con, "subscriptions")
    if line.plans:
        subs = subs.filter(subs.plan.isin(line.plans))
    over = subs.ended_at.notnull() & (subs.ended_at <= ibis.literal(_now(now)))
    running = subs.filter(~over).select(_cid="customer_id").distinct()
    gone = subs.select(_cid="customer_id").distinct().anti_join(running, "_cid")
    return scores.anti_join(gone, scores.customer_id == gone._cid)


def scored_customers(
    con: BaseBackend,
    *,
    definition: str,
    tables: frozenset[str] | None = None,
    line: ChurnDefinition | None = None,
    now: dt.datetime | None = None,
    run: dt.datetime | None = None,
) -> ir.Table:
    """Each customer's score in ``definition``'s latest run, with the latest CLV and value at risk.

    Columns: the churn score's, plus ``clv``, ``currency``, ``probability_alive`` (null when the
    customer has no CLV score or the warehouse no ``clv_scores``) and ``at_risk_value`` (null
    without a CLV). ``tables`` is the set of warehouse tables when the caller knows it (saves a
    lookup). With ``line``, customers who have already churned by ``now`` (default: the
    current time) are left out. ``run`` is the latest run's date when the caller has read it.
    """
    run = run or latest_run_as_of(con, definition)
    churn = latest_churn_scores(con, definition)
    if run is None:
        churn = churn.filter(ibis.literal(False))
    else:
        churn = churn.filter(churn.as_of == ibis.literal(run))
    churn = without_churned(con, churn, line, now=now, tables=tables)
    clv = latest_clv_scores(con) if _has(con, "clv_scores", tables) else None
    churn = _attach(
        churn, clv, {"clv": "float64", "currency": "string", "probability_alive": "float64"}
    )
    return churn.mutate(at_risk_value=value_at_risk(churn.probability, churn.clv))


def at_risk_summary(
    con: BaseBackend,
    *,
    definition: str,
    tables: frozenset[str] | None = None,
    line: ChurnDefinition | None = None,
    now: dt.datetime | None = None,
) -> ir.Table:
    """One row: customers scored, how many are high / medium risk, total value at risk, as_of.

    The overview's headline, aggregated from :func:`scored_customers` like the list itself
    (pass ``line`` to leave out customers who have already churned, as the list does).
    """
    scored = scored_customers(con, definition=definition, tables=tables, line=line, now=now)
    return scored.aggregate(
        scored=scored.count(),
        high=(scored.risk_band == "high").cast("int64").sum(),
        medium=(scored.risk_band == "medium").cast("int64").sum(),
        at_risk_value=total_value_at_risk(scored.probability, scored.clv),
        as_of=scored.as_of.max(),
    )


def _subscribed(con: BaseBackend, plan: str, run: dt.datetime) -> ir.Table:
    """Customers with a subscription on ``plan`` (any letter case) not ended by ``run``."""
    subs = wh.read_table(con, "subscriptions")
    kept = subs.filter(
        (subs.plan.lower() == plan.lower())
        & (subs.ended_at.isnull() | (subs.ended_at >= ibis.literal(run)))
    )
    return kept.select(_pid="customer_id").distinct()


def _filtered(
    con: BaseBackend,
    table: ir.Table,
    query: AtRiskQuery,
    *,
    pii: bool,
    run: dt.datetime | None,
    tables: frozenset[str] | None,
    line: ChurnDefinition | None = None,
) -> ir.Table:
    """``table`` (scored rows with profile columns) narrowed by every filter of ``query``.

    A segment rule is evaluated as of the run's date, for ``line`` (or a line named after the
    query's definition), and keeps its customers.
    """
    table = table.filter(table.risk_band.isin(list(query.bands)))
    if query.customers is not None:
        if not query.customers:
            return table.filter(ibis.literal(False))
        table = table.filter(table.customer_id.isin(sorted(query.customers)))
    if query.rule is not None:
        if run is None:
            return table.filter(ibis.literal(False))
        definition = line or ChurnDefinition(name=query.definition or "default")
        kept = segment_members(con, query.rule, as_of=run, line=definition, tables=tables)
        kept = kept.select(_rid="customer_id")
        table = table.semi_join(kept, table.customer_id == kept._rid)
    if query.clv_min is not None:
        table = table.filter(table.clv >= query.clv_min)
    if query.clv_max is not None:
        table = table.filter(table.clv <= query.clv_max)
    if query.country:
        table = table.filter(table.country.upper() == query.country.upper())
    if query.channel:
        table = table.filter(table.acquisition_channel == query.channel)
    if query.search:
        needle = query.search.lower()
        found = table.customer_id.lower().contains(needle)
        if pii:  # an e-mail is searched only by who may see it, or the search would reveal it
            found = found | table.email.lower().contains(needle).fill_null(False)
        table = table.filter(found)
    if query.reason:
        keys = reason_keys(query.reason)
        stored = table.reasons.cast("string")
        matches = [stored.contains(f'"{key}"') for key in keys]
        table = table.filter(ibis.or_(*matches).fill_null(False))
    if query.tenure_min is not None or query.tenure_max is not None:
        if run is None:
            return table.filter(ibis.literal(False))
        if query.tenure_min is not None:
            table = table.filter(table.acquired_at <= run - dt.timedelta(days=query.tenure_min))
        if query.tenure_max is not None:
            edge = run - dt.timedelta(days=query.tenure_max + 1)
            table = table.filter(table.acquired_at > edge)
    if query.plan:
        if run is None or not _has(con, "subscriptions", tables):
            return table.filter(ibis.literal(False))
        subscribed = _subscribed(con, query.plan, run)
        table = table.semi_join(subscribed, table.customer_id == subscribed._pid)
    return table


PROFILE_COLUMNS = {
    "country": "string",
    "acquisition_channel": "string",
    "email": "string",
    "phone": "string",
    "acquired_at": "timestamp",
}
"""The customer's profile columns the list shows and filters by."""


def joined(
    con: BaseBackend,
    definition: str,
    *,
    tables: frozenset[str] | None = None,
    line: ChurnDefinition | None = None,
    now: dt.datetime | None = None,
    run: dt.datetime | None = None,
) -> ir.Table:
    """Every customer of ``definition``'s latest run, valued, with profile columns, unfiltered.

    What every query of the list narrows (see :func:`scored_customers` for ``line`` and ``now``).
    """
    scored = scored_customers(
        con, definition=definition, tables=tables, line=line, now=now, run=run
    )
    table = scored.select(
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
    customers = wh.read_table(con, "customers") if _has(con, "customers", tables) else None
    return _attach(table, customers, PROFILE_COLUMNS)


def _frame(
    frames: JoinedFrames,
    con: BaseBackend,
    definition: str,
    *,
    tables: frozenset[str] | None,
    line: ChurnDefinition | None,
) -> tuple[dt.datetime | None, ir.Table]:
    """The latest run's date and joined frame of ``definition`` from ``frames`` (built once)."""

    def build() -> tuple[dt.datetime | None, pa.Table]:
        run = latest_run_as_of(con, definition)
        return run, joined(con, definition, tables=tables, line=line, run=run).to_pyarrow()

    return frames.get((definition, line_key(line)), build)


def at_risk_table(
    con: BaseBackend,
    query: AtRiskQuery,
    *,
    tables: frozenset[str] | None = None,
    pii: bool = False,
    line: ChurnDefinition | None = None,
    now: dt.datetime | None = None,
    run: dt.datetime | None = None,
) -> ir.Table:
    """Every customer the query's filters keep, with profile columns, in no particular order.

    The latest run of the query's line only (``run``, its date, when the caller has read it);
    with ``line``, customers who have already churned by ``now`` are left out. ``pii`` says
    whether the search may match e-mail addresses.
    """
    definition = runnable(query)
    run = run or latest_run_as_of(con, definition)
    table = joined(con, definition, tables=tables, line=line, now=now, run=run)
    return _filtered(con, table, query, pii=pii, run=run, tables=tables, line=line)


def ordered(table: ir.Table, query: AtRiskQuery) -> ir.Table:
    """``table`` in the query's order, starting after its cursor; ``_sort`` holds the key.

    Customers without the sorted value (no CLV) count as 0; ties in value or CLV, those
    customers among them, are ordered by probability in the same direction
    (:data:`~retain.targeting.query.TIE_BY_PROBABILITY`), then by customer id, so the order is
    total and a cursor of (sort value, probability, customer id) resumes exactly.
    """
    after = query.after()
    if query.sort == "customer_id":
        key = table.customer_id
        if after is not None:
            table = table.filter(key < after[1] if query.descending else key > after[1])
        table = table.mutate(_sort=ibis.null("float64"))
        return table.order_by(key.desc() if query.descending else key.asc())
    tie = query.sort in TIE_BY_PROBABILITY
    table = table.mutate(
        _sort=table[query.sort].fill_null(0.0).cast("float64"),
        _tie=table.probability.cast("float64"),
    )
    down = query.descending
    if after is not None:
        value, last, p = after
        same = table._sort == value
        beyond = table._sort < value if down else table._sort > value
        if tie and p is not None:
            ahead = table._tie < p if down else table._tie > p
            same_p = same & (table._tie == p)
            beyond = beyond | (same & ahead) | (same_p & (table.customer_id > last))
        else:
            beyond = beyond | (same & (table.customer_id > last))
        table = table.filter(beyond)
    keys = [table._sort.desc() if down else table._sort.asc()]
    if tie:
        keys.append(table._tie.desc() if down else table._tie.asc())
    return table.order_by([*keys, table.customer_id.asc()])


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
        at_risk_value=_number(record.get("at_risk_value")),
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
    line: ChurnDefinition | None = None,
    now: dt.datetime | None = None,
) -> AtRiskPage:
    """One page of the at-risk list (this executes three queries: the run, the count, the page).

    Parameters
    ----------
    con
        The warehouse backend (with ``churn_scores``; ``clv_scores``, ``customers`` and
        ``subscriptions`` are joined when present).
    query
        What to show, with its definition set and any saved segment applied (a segment rule,
        :attr:`AtRiskQuery.rule`, is evaluated as of the run's date).
    pii
        Whether rows carry the customer's e-mail and phone (and the search matches e-mails).
    lang
        The language reasons are rendered in (default: the current one).
    tables
        The warehouse's table names when the caller knows them (saves a lookup).
    line
        The query's business line as configured: with it, customers who have already churned
        by ``now`` (default: the current time) are left out (see the module docstring).
    """
    definition = runnable(query)
    frames = shared_frames(con) if now is None else None
    key: Hashable = None
    if frames is not None:
        version = frames.version
        key = page_key(query, pii, lang or get_language(), line_key(line), tables)
        cached = frames.page(key) if key is not None else None
        if cached is not None:
            return cached
        run, base = _frame(frames, con, definition, tables=tables, line=line)
        table = _filtered(con, base, query, pii=pii, run=run, tables=tables, line=line)
    else:
        run = latest_run_as_of(con, definition)
        table = at_risk_table(con, query, tables=tables, pii=pii, line=line, now=now, run=run)
    # Run on ``con`` itself: an expression over the in-memory frame alone has no backend of its
    # own, and Ibis's default one is a single connection that threads must not share.
    total = int(con.execute(table.count()))
    records = con.to_pyarrow(ordered(table, query).limit(query.limit + 1)).to_pylist()
    next_cursor = None
    if len(records) > query.limit:
        records = records[: query.limit]
        last = records[-1]
        tie = float(last["_tie"]) if query.sort in TIE_BY_PROBABILITY else None
        next_cursor = encode_cursor(last["_sort"], last["customer_id"], tie)
    found = AtRiskPage(
        rows=[to_row(r, pii=pii, lang=lang) for r in records],
        total=total,
        next_cursor=next_cursor,
        definition=definition,
        as_of=run,
    )
    if frames is not None and key is not None:
        frames.keep(key, found, version)
    return found
