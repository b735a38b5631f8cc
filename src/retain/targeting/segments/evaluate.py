"""A segment rule compiled to one Ibis query, run in the warehouse's engine, point in time.

:func:`segment_members` evaluates a :data:`~retain.targeting.segments.builder.Rule` as of a date:
the customers acquired before it (or with no acquisition date), each joined, only where the rule
needs it, with what was known on that date: the business line's newest churn score and the
newest CLV scored on or before it, the churn features (:func:`retain.features.feature_snapshot`)
as of it, each scheme's memberships stored on the newest date on or before it, and event counts
in the days before it. The query is plain joins, comparisons and counts, so DuckDB, PostgreSQL
and Spark return the same customers (tests/backends check DuckDB against PostgreSQL).

A comparison against a missing value is false (so ``not`` keeps the customers whose value is
missing); ``is_null`` / ``not_null`` ask for them. Customer columns and ``attributes`` hold the
customer's current values: only scores, features, memberships, events and tenure are point in
time. :func:`size_history` counts a rule at month ends (the rule is evaluated again at each, not
stored), so a new segment has a history from the first day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain import warehouse as wh
from retain.config import ChurnDefinition
from retain.facts import DateLike, as_timestamp
from retain.facts.attributes import json_text
from retain.features import feature_snapshot
from retain.features.attributes import AttributeFeature, attribute_value
from retain.targeting.scores import latest_churn_scores, latest_clv_scores
from retain.targeting.segments.builder import (
    ATTRIBUTE_FIELD,
    FEATURE_FIELD,
    AllOf,
    AnyOf,
    Condition,
    EventCount,
    Not,
    Rule,
    SavedRef,
    field_spec,
    rule_error,
    walk,
)
from retain.targeting.segments.store import MEMBERSHIPS, membership_dates, memberships
from retain.targeting.value import value_at_risk

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["month_ends", "segment_members", "segment_size", "size_history"]

_CLV_COLUMNS = (
    "clv",
    "probability_alive",
    "expected_purchases",
    "probability_order_30d",
    "probability_order_60d",
    "probability_order_90d",
)


def _has(con: BaseBackend, name: str, tables: frozenset[str] | None) -> bool:
    return name in tables if tables is not None else wh.table_exists(con, name)


class _Compiler:
    """Joins what one rule needs onto the customers and turns the rule into a filter."""

    def __init__(
        self,
        con: BaseBackend,
        as_of: pd.Timestamp,
        line: ChurnDefinition,
        tables: frozenset[str] | None,
    ) -> None:
        self.con = con
        self.as_of = as_of
        self.line = line
        self.tables = tables
        self.columns: dict[str, str] = {}
        """Field (or event key) -> the column of the joined table that holds it."""
        self.parts: list[ir.Table] = []
        """Tables keyed by ``_k<i>`` to left-join onto the customers."""
        self.nulls: dict[str, str] = {}
        """Columns of sources the warehouse lacks: typed nulls (column -> dtype)."""

    def _lit(self, days_before: int = 0) -> ir.Value:
        return ibis.literal((self.as_of - pd.Timedelta(days=days_before)).to_pydatetime())

    def _part(self, table: ir.Table, key: str, columns: dict[str, ir.Value]) -> None:
        """Join ``table``'s ``columns`` by its ``key`` column (named ``_k<n>`` to stay unique)."""
        name = f"_k{len(self.parts)}"
        self.parts.append(table.select(**{name: table[key]}, **columns))

    def prepare(self, rule: Rule) -> ir.Table:
        """The customers with every column ``rule`` reads, as of the date."""
        fields = {n.field for n in walk(rule) if isinstance(n, Condition)}
        events = {(n.event, n.days) for n in walk(rule) if isinstance(n, EventCount)}
        for node in walk(rule):
            if isinstance(node, SavedRef):
                raise rule_error("rule_unresolved", path="rule", name=node.name)
        sources = {field_spec(f).source for f in fields}
        if "score" in sources or "at_risk_value" in fields:
            self._scores()
        if "clv" in sources:
            self._clv()
        if "feature" in sources:
            self._features(sorted(f for f in fields if f.startswith(FEATURE_FIELD)))
        for scheme in sorted(f[len("segment.") :] for f in fields if f.startswith("segment.")):
            self._memberships(scheme)
        for i, (event, days) in enumerate(sorted(events)):
            self._events(i, event, days)
        customers = wh.read_table(self.con, "customers")
        known = customers.acquired_at.isnull() | (customers.acquired_at < self._lit())
        table = customers.filter(known)
        for part in self.parts:
            key = next(c for c in part.columns if c.startswith("_k"))
            table = table.left_join(part, table.customer_id == part[key]).drop(key)
        if self.nulls:
            table = table.mutate(**{c: ibis.null(d) for c, d in self.nulls.items()})
        if "at_risk_value" in fields:
            table = table.mutate(_at_risk_value=value_at_risk(table._churn_probability, table._clv))
            self.columns["at_risk_value"] = "_at_risk_value"
        return table

    def _scores(self) -> None:
        names = {"churn_probability": "_churn_probability", "risk_band": "_risk_band"}
        self.columns.update(names)
        if not _has(self.con, "churn_scores", self.tables):
            self.nulls.update(_churn_probability="float64", _risk_band="string")
            return
        scores = latest_churn_scores(self.con, self.line.name, as_of=self.as_of)
        self._part(
            scores,
            "customer_id",
            {"_churn_probability": scores.probability, "_risk_band": scores.risk_band},
        )

    def _clv(self) -> None:
        names = {c: f"_{c}" for c in _CLV_COLUMNS}
        self.columns.update(names)
        if not _has(self.con, "clv_scores", self.tables):
            self.nulls.update(dict.fromkeys(names.values(), "float64"))
            return
        clv = latest_clv_scores(self.con, as_of=self.as_of)
        self._part(clv, "customer_id", {v: clv[k].cast("float64") for k, v in names.items()})

    def _features(self, fields: list[str]) -> None:
        names = {f: "_f_" + f[len(FEATURE_FIELD) :] for f in fields}
        self.columns.update(names)
        snap = feature_snapshot(self.con, as_of=self.as_of, definition=self.line)
        self._part(
            snap, "customer_id", {v: snap[k[len(FEATURE_FIELD) :]] for k, v in names.items()}
        )

    def _memberships(self, scheme: str) -> None:
        column = f"_s_{scheme}"
        self.columns[f"segment.{scheme}"] = column
        stored = [d for d in membership_dates(self.con, scheme) if d <= self.as_of]
        if not stored or not _has(self.con, MEMBERSHIPS, self.tables):
            self.nulls[column] = "string"
            return
        rows = memberships(self.con, scheme, stored[-1])
        self._part(rows, "customer_id", {column: rows.segment})

    def _events(self, i: int, event: str, days: int) -> None:
        column = f"_e{i}"
        self.columns[f"event:{event}:{days}"] = column
        if not _has(self.con, "events", self.tables):
            self.nulls[column] = "int64"
            return
        events = wh.read_table(self.con, "events")
        window = (
            (events.name == event)
            & (events.occurred_at >= self._lit(days))
            & (events.occurred_at < self._lit())
        )
        counts = events.filter(window).group_by("customer_id").aggregate(_n=ibis._.count())
        self._part(counts, "customer_id", {column: counts._n})

    # -- the filter ----------------------------------------------------------------------------

    def predicate(self, table: ir.Table, rule: Rule) -> ir.BooleanValue:
        """``rule`` as a boolean over ``table`` (never null: a missing value compares false)."""
        if isinstance(rule, AllOf):
            return ibis.and_(*(self.predicate(table, r) for r in rule.rules))
        if isinstance(rule, AnyOf):
            return ibis.or_(*(self.predicate(table, r) for r in rule.rules))
        if isinstance(rule, Not):
            return ~self.predicate(table, rule.rule)
        if isinstance(rule, EventCount):
            count = table[self.columns[f"event:{rule.event}:{rule.days}"]]
            return count.fill_null(0) >= rule.at_least
        if isinstance(rule, SavedRef):  # prepare() refused these
            raise rule_error("rule_unresolved", path="rule", name=rule.name)
        return self._condition(table, rule)

    def _condition(self, table: ir.Table, rule: Condition) -> ir.BooleanValue:
        spec = field_spec(rule.field)
        if rule.field == "tenure_days":
            return self._tenure(table, rule)
        if spec.kind == "attribute":
            key = rule.field[len(ATTRIBUTE_FIELD) :]
            values = rule.value if isinstance(rule.value, tuple) else (rule.value,)
            numeric = any(isinstance(v, int | float) for v in values)
            if numeric:
                feature = AttributeFeature(key, key, "numeric")
                column: ir.Value = attribute_value(table.attributes, feature)
            else:
                column = json_text(table.attributes, key)
        elif spec.source == "customer":
            column = table[rule.field]
        else:
            column = table[self.columns[rule.field]]
        value: object = _times(rule.value) if spec.kind == "time" else rule.value
        return _compare(column, rule.op, value)

    def _tenure(self, table: ir.Table, rule: Condition) -> ir.BooleanValue:
        """Whole days since ``acquired_at`` compared as timestamps (the same in every engine)."""
        acquired = table.acquired_at

        def at_least(days: int) -> ir.BooleanValue:
            return acquired <= self._lit(days)

        def at_most(days: int) -> ir.BooleanValue:
            return acquired > self._lit(days + 1)

        def equal(days: int) -> ir.BooleanValue:
            return at_least(days) & at_most(days)

        op, value = rule.op, rule.value
        if op == "is_null":
            return acquired.isnull()
        if op == "not_null":
            return acquired.notnull()
        if isinstance(value, tuple):
            days = [int(v) for v in value]
            if op == "between":
                found = at_least(days[0]) & at_most(days[1])
            else:
                found = ibis.or_(*(equal(d) for d in days))
                if op == "not_in":
                    found = ~found.fill_null(False) & acquired.notnull()
            return found.fill_null(False)
        n = int(value)  # type: ignore[arg-type]
        found = {
            "=": lambda: equal(n),
            "!=": lambda: ~equal(n),
            ">=": lambda: at_least(n),
            ">": lambda: at_least(n + 1),
            "<=": lambda: at_most(n),
            "<": lambda: at_most(n - 1),
        }[op]()
        return found.fill_null(False)


def _times(value: object) -> object:
    def one(v: object) -> dt.datetime:
        stamp = pd.Timestamp(str(v))
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.to_pydatetime()

    if isinstance(value, tuple):
        return tuple(one(v) for v in value)
    return one(value)


def _compare(column: ir.Value, op: str, value: object) -> ir.BooleanValue:
    """``column op value`` with a missing value reading false (the null tests aside)."""
    if op == "is_null":
        return column.isnull()
    if op == "not_null":
        return column.notnull()
    values = list(value) if isinstance(value, tuple) else [value]
    if op == "in":
        found = column.isin(values)
    elif op == "not_in":
        found = ~column.isin(values) & column.notnull()
    elif op == "between":
        found = column.between(values[0], values[1])
    else:
        found = {
            "=": column.__eq__,
            "!=": column.__ne__,
            "<": column.__lt__,
            "<=": column.__le__,
            ">": column.__gt__,
            ">=": column.__ge__,
        }[op](value)
    return found.fill_null(False)


def segment_members(
    con: BaseBackend,
    rule: Rule,
    *,
    as_of: DateLike,
    line: ChurnDefinition | None = None,
    tables: frozenset[str] | None = None,
) -> ir.Table:
    """``customer_id`` of every customer ``rule`` keeps as of ``as_of`` (nothing executed).

    Parameters
    ----------
    con
        The warehouse backend (``customers`` is required; scores, events and memberships are
        read when the rule names them, and count as missing when the warehouse lacks them).
    rule
        A parsed rule whose saved-segment references were expanded
        (:func:`~retain.targeting.segments.builder.expand`).
    as_of
        The date the rule holds on: data strictly before it (scores on or before it).
    line
        The business line whose churn score and features the rule reads (default: the
        default :class:`~retain.config.ChurnDefinition`).
    tables
        The warehouse's table names, when the caller knows them (saves lookups).
    """
    compiler = _Compiler(con, as_timestamp(as_of), line or ChurnDefinition(), tables)
    table = compiler.prepare(rule)
    return table.filter(compiler.predicate(table, rule)).select("customer_id")


def segment_size(
    con: BaseBackend, rule: Rule, *, as_of: DateLike, line: ChurnDefinition | None = None
) -> int:
    """How many customers ``rule`` keeps as of ``as_of``."""
    return int(con.execute(segment_members(con, rule, as_of=as_of, line=line).count()))


def month_ends(end: DateLike, months: int) -> list[pd.Timestamp]:
    """The ``months`` month ends up to ``end``, oldest first, as the next month's first day.

    A month's end is read as of 00:00 on the first day of the next month (its whole last day
    counted); ``end`` itself closes the list when it is not a month's first day.
    """
    stop = as_timestamp(end)
    first = stop.normalize().replace(day=1)
    dates = [first - pd.DateOffset(months=i) for i in range(months)]
    out = sorted(pd.Timestamp(d) for d in dates)
    if stop != first:
        out = [*out[1:], stop]
    return out


def size_history(
    con: BaseBackend,
    rule: Rule,
    *,
    end: DateLike,
    months: int = 12,
    dates: Sequence[DateLike] | None = None,
    line: ChurnDefinition | None = None,
) -> pd.DataFrame:
    """``as_of, customers``: the rule's size at each of ``dates`` (default: :func:`month_ends`).

    Each date evaluates the rule point in time (see the module docstring): nothing is stored,
    so the history of a segment saved today reaches back as far as the data does.
    """
    stamps = [as_timestamp(d) for d in dates] if dates is not None else month_ends(end, months)
    sizes = [segment_size(con, rule, as_of=d, line=line) for d in stamps]
    return pd.DataFrame({"as_of": stamps, "customers": sizes})
