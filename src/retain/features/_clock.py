"""Time arithmetic relative to a reference date, as backend-agnostic Ibis expressions.

The reference date ``as_of`` is a Python constant, so everything that depends on it alone
(cut-off literals, the length of its month, the days before each month of its year) is worked
out here in Python and reaches the engine as literals. What is left per row is integer
arithmetic on day, month, hour, minute and second, which DuckDB, PySpark and PostgreSQL agree
on; no engine-specific interval types are needed.

Every literal that depends on ``as_of`` is a *slot* (:meth:`Clock.slot`): a name, a fixed type
and a function of ``as_of``. The shape of the expression depends on ``as_of`` only through
:meth:`Clock.shape` (whether its year and the next are leap years), so an expression compiled
once with stand-in values (``Clock(as_of, stand_ins=True)``) serves every date of the same
shape once the slots' values are put in (see :mod:`retain.features._compiled`).

Billing anniversaries follow calendar arithmetic: a subscription started on 31 January renews
on the last day of each shorter month (28/29 February, 30 April ...) and on the 31st where the
month has one, which is what adding whole months to the start date gives in every engine (and
in :class:`pandas.DateOffset`). A yearly plan started on 29 February renews on 28 February in
common years.
"""

from __future__ import annotations

import calendar
import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

__all__ = ["Clock", "Slot"]

DAY = 86400
"""Seconds per day."""

_FIXED_PERIODS = {"day": DAY, "week": 7 * DAY}


def _month_lengths(year: int) -> list[int]:
    return [calendar.monthrange(year, m)[1] for m in range(1, 13)]


def _epoch(as_of: pd.Timestamp) -> int:
    return int(as_of.value // 1_000_000_000)


def _seconds_into_month(as_of: pd.Timestamp) -> int:
    return as_of.hour * 3600 + as_of.minute * 60 + as_of.second + (as_of.day - 1) * DAY


def _next_month_length(as_of: pd.Timestamp) -> int:
    y, m = as_of.year, as_of.month
    return calendar.monthrange(y + 1, 1)[1] if m == 12 else calendar.monthrange(y, m + 1)[1]


_TIMESTAMP = dt.Timestamp()  # what ibis infers for a naive datetime.datetime
_INT32 = dt.Int32()
_INT64 = dt.Int64()
_FLOAT64 = dt.Float64()


@dataclass(frozen=True)
class Slot:
    """A literal that depends on ``as_of``: its type, how to work its value out, a stand-in.

    The stand-in is a value no real literal of the snapshot takes, distinct per slot, so that
    its SQL text can be found in a query compiled with it and replaced by the real value's.
    """

    dtype: dt.DataType
    value: Callable[[pd.Timestamp], object]
    stand_in: object


def _stand_in(index: int, dtype: dt.DataType) -> object:
    if dtype.is_timestamp():
        return _dt.datetime(2900 + index, 11, 22, 3, 4, 5, 678_901)
    if dtype.is_float64():
        return float(987_654_321_000 + index)
    if dtype.is_int64():
        return 8_765_432_109_876_000 + index
    return 2_123_456_700 + index  # int32


class Clock:
    """Windows and distances relative to ``as_of`` (naive UTC), as Ibis expressions.

    Parameters
    ----------
    as_of
        The reference date.
    stand_ins
        Whether the ``as_of``-dependent literals (:attr:`slots`) take their stand-in values
        instead of their real ones: the expression then describes every date of the same
        :meth:`shape`.
    """

    def __init__(self, as_of: pd.Timestamp, *, stand_ins: bool = False) -> None:
        self.as_of = as_of
        self.stand_ins = stand_ins
        self.slots: dict[str, Slot] = {}
        """Every ``as_of``-dependent literal used so far, by name."""

    @staticmethod
    def shape(as_of: pd.Timestamp) -> tuple[bool, bool]:
        """What of ``as_of`` the expression's structure depends on: leap years (this, next)."""
        return calendar.isleap(as_of.year), calendar.isleap(as_of.year + 1)

    def slot(
        self, name: str, dtype: dt.DataType, value: Callable[[pd.Timestamp], object]
    ) -> ir.Value:
        """A literal of ``dtype`` whose value is ``value(as_of)`` (or the slot's stand-in)."""
        slot = self.slots.get(name)
        if slot is None:
            slot = self.slots[name] = Slot(dtype, value, _stand_in(len(self.slots), dtype))
        return ibis.literal(slot.stand_in if self.stand_ins else value(self.as_of), type=dtype)

    def lit(self, days_before: float = 0.0) -> ir.Value:
        """The instant ``days_before`` days before ``as_of``, as a timestamp literal."""
        return self.slot(
            f"as_of-{days_before:g}d",
            _TIMESTAMP,
            lambda as_of: (as_of - pd.Timedelta(days=days_before)).to_pydatetime(),
        )

    def before(self, col: ir.Value) -> ir.Value:
        """``col < as_of``: the point-in-time cut every source row passes first."""
        return col < self.lit()

    def within(self, col: ir.Value, days: float, *, offset: float = 0.0) -> ir.Value:
        """``col`` in ``[as_of - offset - days, as_of - offset)``, for rows already cut.

        Every caller has applied :meth:`before` to its rows, so a window ending at ``as_of``
        needs only its lower bound: one comparison per row instead of two.
        """
        lower = col >= self.lit(offset + days)
        return lower if offset == 0 else lower & (col < self.lit(offset))

    def _epoch_float(self) -> ir.Value:
        return self.slot("epoch_float", _FLOAT64, lambda as_of: float(_epoch(as_of)))

    def days_since(self, col: ir.Value) -> ir.Value:
        """Days from ``col`` to ``as_of`` (float; positive for past instants)."""
        return (self._epoch_float() - col.epoch_seconds().cast("float64")) / float(DAY)

    def days_until(self, col: ir.Value) -> ir.Value:
        """Days from ``as_of`` to ``col`` (float; positive for future instants)."""
        return (col.epoch_seconds().cast("float64") - self._epoch_float()) / float(DAY)

    def days_to_next_anniversary(
        self, anchor: ir.Value, period: ir.Value, *, inclusive: bool = False
    ) -> ir.Value:
        """Days from ``as_of`` to the first anniversary of ``anchor`` after ``as_of``.

        The anniversaries of ``anchor`` for a billing ``period`` (``day``, ``week``, ``month``
        or ``year``; null counts as ``month``, the canonical default) are ``anchor`` plus or
        minus whole periods, in calendar terms for months and years (see the module
        docstring). For a start date before ``as_of`` this is the end of the billing period in
        force at ``as_of``; for an end date after it, the end rolled back by whole periods to
        the first one after ``as_of``. The result lies in ``(0, period]``, or in
        ``[0, period)`` with ``inclusive`` (an anniversary falling exactly on ``as_of`` counts);
        an unknown period gives null.

        Parameters
        ----------
        anchor
            A timestamp column (naive UTC), any side of ``as_of``.
        period
            A string column with the billing period.
        inclusive
            Whether an anniversary at ``as_of`` itself is the answer (0 days).
        """
        period = period.fill_null("month")
        sod = anchor.hour() * 3600 + anchor.minute() * 60 + anchor.second()
        day = anchor.day()
        here = self.slot("seconds_into_month", _INT32, _seconds_into_month)

        # Monthly: the anniversary in as_of's month if it is still ahead, else next month's.
        this_len = self.slot(
            "month_length", _INT32, lambda a: calendar.monthrange(a.year, a.month)[1]
        )
        next_len = self.slot("next_month_length", _INT32, _next_month_length)
        in_month = (ibis.least(day, this_len) - 1) * DAY + sod
        in_next_month = (ibis.least(day, next_len) + this_len - 1) * DAY + sod
        ahead = (in_month >= here) if inclusive else (in_month > here)
        monthly = ahead.ifelse(in_month, in_next_month) - here

        # Yearly: the same within as_of's year (offsets from 1 January of that year). Days
        # before the anchor's month in a common year, by the usual closed form, plus one from
        # March in leap years; only a 29 February anchor is clamped (to the 28th).
        here_y = self.slot(
            "seconds_into_year",
            _INT32,
            lambda a: _seconds_into_month(a) + sum(_month_lengths(a.year)[: a.month - 1]) * DAY,
        )
        month = anchor.month()
        common = (month * 367 - 362) // 12 + day - 1 - (month > 2).ifelse(2, 0)
        leap_day = ((month == 2) & (day == 29)).ifelse(1, 0)

        def in_year(year: int) -> ir.Value:
            leap = calendar.isleap(year)
            return (common + (month > 2).ifelse(1, 0) if leap else common - leap_day) * DAY + sod

        # Leap years are the expression's shape (Clock.shape), not slots.
        y = self.as_of.year
        this_year = in_year(y)
        next_year = in_year(y + 1) + (366 if calendar.isleap(y) else 365) * DAY
        ahead = (this_year >= here_y) if inclusive else (this_year > here_y)
        yearly = ahead.ifelse(this_year, next_year) - here_y

        # Fixed-length periods: the distance to the next multiple of the period.
        behind = self.slot("epoch", _INT64, _epoch) - anchor.epoch_seconds().cast("int64")
        seconds = period.substitute(_FIXED_PERIODS, else_=ibis.null("int64"))
        if inclusive:  # (anchor - as_of) mod period, in [0, period)
            fixed = (((-behind) % seconds) + seconds) % seconds
        else:  # period - ((as_of - anchor) mod period), in (0, period]
            fixed = seconds - ((behind % seconds) + seconds) % seconds

        out = period.cases(("month", monthly), ("year", yearly), else_=fixed)
        return out.cast("float64") / float(DAY)
