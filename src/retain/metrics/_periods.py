"""Period bucketing shared by every metric: local time, period ordinals and the calendar.

Timestamps are stored as naive UTC. A metric cuts them into periods (days, weeks, months...)
in the business's time zone, so a purchase at 2024-01-31 16:00 UTC belongs to February in
Tokyo. Engines disagree on time-zone functions (DuckDB, Spark and PostgreSQL each spell them
differently, and some lack them), so the conversion here is engine-portable: the zone's UTC
offsets between 1970 and 2100 are computed in Python and turned into a balanced tree of
``CASE`` branches, each adding a constant interval (``ts + INTERVAL 'x' SECOND``). A zone
without daylight saving time (Asia/Tokyo, Asia/Seoul) is a single constant shift.

Each period gets an integer *ordinal* (months since 0000-01, days since 1970-01-01, ...), so
"the previous period" is ``ordinal - 1`` on every engine. :func:`calendar` maps ordinals back to
``period_start`` labels (the local start of the period, a naive timestamp).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.errors import InvalidParameterError
from retain.facts import DateLike, parse_timestamp
from retain.i18n import t

__all__ = ["PERIODS", "PeriodLike", "PeriodSpec", "calendar", "local_time", "period_spec"]

Unit = Literal["day", "week", "month", "quarter", "year"]
PERIODS: tuple[Unit, ...] = ("day", "week", "month", "quarter", "year")
PeriodLike = str | Sequence[dt.datetime | dt.date | str | pd.Timestamp]
"""A unit name, or the sorted edges of custom ranges (``n`` edges make ``n - 1`` periods)."""

_FIRST_YEAR = 1970
_LAST_YEAR = 2100
_EPOCH = dt.datetime(1970, 1, 1)
_DAY = 86_400


@dataclass(frozen=True)
class PeriodSpec:
    """A validated period: a unit, or custom ranges given by their local edges."""

    unit: Unit | None
    edges: tuple[dt.datetime, ...] = ()
    tz: str = "UTC"

    @property
    def label(self) -> str:
        return self.unit or "custom"

    def ordinal(self, ts: ir.TimestampValue) -> ir.IntegerValue:
        """The period ordinal of a naive UTC timestamp (``NULL`` outside custom ranges)."""
        local = local_time(ts, self.tz)
        if self.unit is None:
            return _bisect_ordinal(local, self.edges)
        return unit_ordinal(local, self.unit)

    def python_ordinal(self, when: dt.datetime) -> int | None:
        """The ordinal of a *local* naive datetime, computed in Python (for ``start``/``end``)."""
        if self.unit is None:
            for i in range(len(self.edges) - 1):
                if self.edges[i] <= when < self.edges[i + 1]:
                    return i
            return None
        return _python_unit_ordinal(when, self.unit)

    def ordinal_of_local(self, local: ir.TimestampValue) -> ir.IntegerValue:
        """The period ordinal of an expression already in local time."""
        if self.unit is None:
            return _bisect_ordinal(local, self.edges)
        return unit_ordinal(local, self.unit)


def period_spec(period: PeriodLike, tz: str = "UTC") -> PeriodSpec:
    """Validate ``period`` and ``tz``; raise :class:`InvalidParameterError` with the choices."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidParameterError(
            t("metrics.bad_tz", value=repr(tz)), hint=t("metrics.bad_tz_hint")
        ) from None
    if isinstance(period, str):
        if period not in PERIODS:
            choices = ", ".join(repr(p) for p in PERIODS)
            raise InvalidParameterError(
                t("metrics.bad_period", choices=choices, value=repr(period)),
                hint=t("metrics.bad_period_hint"),
            )
        return PeriodSpec(unit=period, tz=tz)
    edges = tuple(pd.Timestamp(e).to_pydatetime().replace(tzinfo=None) for e in period)
    if len(edges) < 2 or any(b <= a for a, b in pairwise(edges)):
        raise InvalidParameterError(t("metrics.bad_edges"), hint=t("metrics.bad_edges_hint"))
    return PeriodSpec(unit=None, edges=edges, tz=tz)


# --- time zones ---------------------------------------------------------------------------


@cache
def _offsets(tz: str) -> tuple[tuple[dt.datetime, ...], tuple[int, ...]]:
    """UTC instants where the zone's offset changes, and the offset (seconds) on each side.

    Returns ``(transitions, offsets)`` with ``len(offsets) == len(transitions) + 1``: before
    ``transitions[0]`` the offset is ``offsets[0]``, and so on.
    """
    zone = ZoneInfo(tz)

    def offset(at: dt.datetime) -> int:
        delta = at.replace(tzinfo=dt.UTC).astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    transitions: list[dt.datetime] = []
    offsets = [offset(dt.datetime(_FIRST_YEAR, 1, 1))]
    day = dt.datetime(_FIRST_YEAR, 1, 1)
    end = dt.datetime(_LAST_YEAR, 1, 1)
    step = dt.timedelta(hours=12)
    while day < end:
        nxt = day + step
        if offset(nxt) != offsets[-1]:
            lo, hi = day, nxt  # offset(lo) == offsets[-1] != offset(hi)
            while (hi - lo) > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if offset(mid) == offsets[-1]:
                    lo = mid
                else:
                    hi = mid
            transitions.append(hi)
            offsets.append(offset(hi))
        day = nxt
    return tuple(transitions), tuple(offsets)


def local_time(ts: ir.TimestampValue, tz: str) -> ir.TimestampValue:
    """Naive UTC ``ts`` as naive local time in ``tz`` (engine-portable, see the module doc)."""
    transitions, offsets = _offsets(tz)

    def shifted(seconds: int) -> ir.TimestampValue:
        return ts if seconds == 0 else ts + ibis.interval(seconds=seconds)

    def tree(lo: int, hi: int) -> ir.TimestampValue:
        # offsets[lo..hi] with transitions[lo..hi-1] between them
        if lo == hi:
            return shifted(offsets[lo])
        mid = (lo + hi) // 2
        cut = ibis.timestamp(transitions[mid])
        return ibis.ifelse(ts < cut, tree(lo, mid), tree(mid + 1, hi))

    return tree(0, len(offsets) - 1)


def to_utc(local: dt.datetime, tz: str) -> dt.datetime:
    """A naive local datetime as naive UTC (the first of two readings in a DST fold)."""
    aware = local.replace(tzinfo=ZoneInfo(tz))
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


# --- ordinals -----------------------------------------------------------------------------


def _epoch_days(local: ir.TimestampValue) -> ir.IntegerValue:
    return (local.epoch_seconds() // _DAY).cast("int64")


def unit_ordinal(local: ir.TimestampValue, unit: Unit) -> ir.IntegerValue:
    """Ordinal of a local timestamp: days/weeks since 1970, months/quarters/years since year 0.

    Weeks start on Monday (ISO 8601): 1970-01-01 was a Thursday, so the week ordinal is
    ``(days + 3) // 7``.
    """
    if unit == "day":
        return _epoch_days(local)
    if unit == "week":
        return ((_epoch_days(local) + 3) // 7).cast("int64")
    year = local.year().cast("int64")
    if unit == "year":
        return year
    month = local.month().cast("int64")
    if unit == "month":
        return year * 12 + month - 1
    return year * 4 + (month - 1) // 3


def _python_unit_ordinal(when: dt.datetime, unit: Unit) -> int:
    days = (when - _EPOCH).days
    if unit == "day":
        return days
    if unit == "week":
        return (days + 3) // 7
    if unit == "year":
        return when.year
    if unit == "month":
        return when.year * 12 + when.month - 1
    return when.year * 4 + (when.month - 1) // 3


def _unit_start(ordinal: int, unit: Unit) -> dt.datetime:
    if unit == "day":
        return _EPOCH + dt.timedelta(days=ordinal)
    if unit == "week":
        return _EPOCH + dt.timedelta(days=ordinal * 7 - 3)
    if unit == "year":
        return dt.datetime(ordinal, 1, 1)
    if unit == "month":
        return dt.datetime(ordinal // 12, ordinal % 12 + 1, 1)
    return dt.datetime(ordinal // 4, (ordinal % 4) * 3 + 1, 1)


def _bisect_ordinal(local: ir.TimestampValue, edges: tuple[dt.datetime, ...]) -> ir.IntegerValue:
    null = ibis.null().cast("int64")

    def tree(lo: int, hi: int) -> ir.IntegerValue:
        # local lies in [edges[lo], edges[hi]); find i with edges[i] <= local < edges[i+1]
        if hi - lo == 1:
            return ibis.literal(lo, type="int64")
        mid = (lo + hi) // 2
        return ibis.ifelse(local < ibis.timestamp(edges[mid]), tree(lo, mid), tree(mid, hi))

    inside = (local >= ibis.timestamp(edges[0])) & (local < ibis.timestamp(edges[-1]))
    return ibis.ifelse(inside, tree(0, len(edges) - 1), null)


@cache
def _calendar_frame(spec: PeriodSpec) -> pd.DataFrame:
    if spec.unit is None:
        starts = list(spec.edges[:-1])
        ordinals = list(range(len(starts)))
        ends = list(spec.edges[1:])
    else:
        first = _python_unit_ordinal(dt.datetime(_FIRST_YEAR, 1, 1), spec.unit)
        last = _python_unit_ordinal(dt.datetime(_LAST_YEAR, 1, 1), spec.unit)
        ordinals = list(range(first, last + 1))
        starts = [_unit_start(o, spec.unit) for o in ordinals]
        ends = [*starts[1:], _unit_start(last + 1, spec.unit)]
    return pd.DataFrame(
        {
            "ordinal": pd.Series(ordinals, dtype="int64"),
            "period_start": pd.Series(pd.to_datetime(starts), dtype="datetime64[us]"),
            "period_end": pd.Series(pd.to_datetime(ends), dtype="datetime64[us]"),
        }
    )


def calendar(spec: PeriodSpec) -> ir.Table:
    """Every period of ``spec`` from 1970 to 2100: ``ordinal``, ``period_start``, ``period_end``.

    ``period_start`` and ``period_end`` are naive *local* times (the report's labels).
    """
    return ibis.memtable(_calendar_frame(spec))


def python_ordinal_range(
    spec: PeriodSpec, start: dt.datetime | None, end: dt.datetime | None
) -> tuple[int | None, int | None]:
    """Ordinals of local ``start`` and ``end`` (either may be ``None``)."""
    lo = spec.python_ordinal(start) if start is not None else None
    hi = spec.python_ordinal(end) if end is not None else None
    return lo, hi


def as_datetime(value: DateLike | None, name: str) -> dt.datetime | None:
    """``value`` as a naive wall-clock datetime (its offset dropped), or None.

    Period bounds are read on the calendar of the metric's time zone, so an offset given with
    the value is dropped rather than converted.
    """
    if value is None:
        return None
    return parse_timestamp(value, name=name).to_pydatetime().replace(tzinfo=None)


def spine(
    bounds: ir.Table,
    spec: PeriodSpec,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> ir.Table:
    """Every period from ``bounds.lo`` to ``bounds.hi`` (one row), widened to ``start``/``end``.

    Returns ``ordinal, period_start, period_end``; periods without any activity are included,
    so a month with no customers shows as zeros rather than disappearing.
    """
    lo_py, hi_py = python_ordinal_range(spec, start, end)
    lo = bounds.lo if lo_py is None else ibis.least(bounds.lo, ibis.literal(lo_py, "int64"))
    hi = bounds.hi if hi_py is None else ibis.greatest(bounds.hi, ibis.literal(hi_py, "int64"))
    edges = bounds.select(lo=lo.cast("int64"), hi=hi.cast("int64"))
    cal = calendar(spec)
    joined = cal.join(edges, [cal.ordinal >= edges.lo, cal.ordinal <= edges.hi])
    return joined.select("ordinal", "period_start", "period_end")


def clip(
    table: ir.Table, spec: PeriodSpec, start: dt.datetime | None, end: dt.datetime | None
) -> ir.Table:
    """Keep the rows of ``table`` (with an ``ordinal`` column) between ``start`` and ``end``."""
    lo, hi = python_ordinal_range(spec, start, end)
    if lo is not None:
        table = table.filter(table.ordinal >= lo)
    if hi is not None:
        table = table.filter(table.ordinal <= hi)
    return table
