"""Per-customer purchase summaries computed in the warehouse engine (Ibis in, Ibis out).

The purchase models need, per customer, *frequency* (repeat purchases), *recency* (age at the
last purchase), *T* (age at the end of the window) and the average repeat spend. Following
the models' papers and ``lifetimes``, purchases are counted per calendar day (several orders on
one day are one purchase of their summed amount), ages are measured from the first purchase
day, and the first purchase is excluded from frequency and from monetary value. Days are UTC
days (timestamps are stored as naive UTC).

Nothing here executes: the caller runs the expression (``.to_pandas()``,
:func:`retain.warehouse.write_table`) or passes it straight to a model's ``fit``, which
compresses it in the engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.errors import InvalidParameterError
from retain.facts import as_timestamp, completed_orders, missing_columns_error, require_columns
from retain.i18n import t

__all__ = ["UNIT_DAYS", "compress_summary", "rfm_summary"]

UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
"""Length of each supported time unit in days."""

TimeUnit = Literal["day", "week", "month"]
_SECONDS_PER_DAY = 86_400.0


def _timestamp(value: Any, name: str) -> ir.TimestampScalar:
    """The UTC day of ``value`` as a timestamp literal (dates are read by :func:`as_timestamp`)."""
    stamp = as_timestamp(value, name=name)
    return ibis.literal(stamp.floor("D").to_pydatetime(), type="timestamp")


def _days(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / _SECONDS_PER_DAY


def rfm_summary(
    orders: ir.Table,
    *,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
    time_unit: TimeUnit = "week",
    calibration_end: str | dt.date | dt.datetime | pd.Timestamp | None = None,
    holdout_end: str | dt.date | dt.datetime | pd.Timestamp | None = None,
) -> ir.Table:
    """Frequency, recency, T and average repeat spend per customer, computed in the engine.

    Parameters
    ----------
    orders
        The ``orders`` table (``customer_id``, ``ordered_at``, ``amount``; ``status`` when
        present keeps only ``completed`` orders and rows without a status).
    as_of
        Last day of data the summary may use (inclusive). Default: the day of the last order.
    time_unit
        Unit of ``recency`` and ``T``: ``"day"``, ``"week"`` (as in CDNOW) or ``"month"``.
    calibration_end
        Last day (inclusive) of the calibration window; overrides ``as_of``. Customers whose
        first purchase is later are left out.
    holdout_end
        With ``calibration_end``: last day (inclusive) of the holdout window. Adds
        ``frequency_holdout`` (purchase days in the holdout), ``monetary_value_holdout``
        (average spend per purchase day there, 0 when none) and ``duration_holdout``.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``frequency``, ``recency``, ``T``,
        ``monetary_value`` [+ holdout columns]. *frequency*, *recency* and *T* are Fader et
        al.'s *x*, *t_x* and *T*.
    """
    require_columns(orders, name="orders", columns=("customer_id", "ordered_at", "amount"))
    if time_unit not in UNIT_DAYS:
        raise InvalidParameterError(
            t("clv.unit_invalid", value=repr(time_unit), options="'day', 'week', 'month'"),
            hint=t("clv.unit_invalid_hint"),
        )
    if holdout_end is not None and calibration_end is None:
        raise InvalidParameterError(
            t("clv.holdout_without_calibration"), hint=t("clv.holdout_without_calibration_hint")
        )
    unit = UNIT_DAYS[time_unit]
    src = completed_orders(orders)
    daily = src.select(
        customer_id=src.customer_id,
        ordered_at=src.ordered_at,
        day=src.ordered_at.truncate("D"),
        amount=src.amount.cast("float64"),
    )
    cut = calibration_end if calibration_end is not None else as_of
    end: ir.TimestampValue
    if cut is not None:
        end = _timestamp(cut, "calibration_end" if calibration_end is not None else "as_of")
    else:
        end = daily.day.max().as_scalar()
    # Filter on the raw timestamp (before the next day starts), so engines can prune by it.
    calib = daily.filter(daily.ordered_at < end + ibis.interval(days=1))
    days = calib.group_by(["customer_id", "day"]).aggregate(spend=calib.amount.sum())
    per = days.group_by("customer_id").aggregate(
        first_day=days.day.min(),
        last_day=days.day.max(),
        n_days=days.day.count(),
        total=days.spend.sum(),
        first_spend=days.spend.argmin(days.day),
    )
    summary = per.select(
        customer_id=per.customer_id,
        frequency=(per.n_days - 1).cast("float64"),
        recency=_days(per.last_day, per.first_day) / unit,
        T=_days(end, per.first_day) / unit,
        monetary_value=ibis.cases(
            (per.n_days > 1, (per.total - per.first_spend) / (per.n_days - 1).cast("float64")),
            else_=0.0,
        ),
    )
    if holdout_end is None:
        return summary
    stop = _timestamp(holdout_end, "holdout_end")
    later = daily.filter(
        (daily.ordered_at >= end + ibis.interval(days=1))
        & (daily.ordered_at < stop + ibis.interval(days=1))
    )
    later_days = later.group_by(["customer_id", "day"]).aggregate(spend=later.amount.sum())
    hold = later_days.group_by("customer_id").aggregate(
        frequency_holdout=later_days.day.count().cast("float64"),
        spend_holdout=later_days.spend.sum(),
    )
    joined = summary.left_join(hold, "customer_id")
    return joined.select(
        *[joined[c] for c in summary.columns],
        frequency_holdout=joined.frequency_holdout.fill_null(0.0),
        monetary_value_holdout=ibis.cases(
            (joined.frequency_holdout > 0, joined.spend_holdout / joined.frequency_holdout),
            else_=0.0,
        ),
        duration_holdout=_days(stop, end) / unit,
    )


def compress_summary(
    summary: ir.Table, *, columns: Sequence[str] = ("frequency", "recency", "T")
) -> ir.Table:
    """Unique rows of ``columns`` with a ``weight`` column counting the customers sharing each.

    This is the sufficient statistic of the BG/NBD and Pareto/NBD likelihoods (and, with
    ``("frequency", "monetary_value")``, of Gamma-Gamma): fitting on it gives exactly the fit
    on one row per customer, with far fewer rows.
    """
    present = [str(c) for c in summary.columns]
    missing = [c for c in columns if c not in present]
    if missing:
        raise missing_columns_error(
            "rfm",
            missing,
            present=present,
            hint=t("clv.missing_column_hint", columns=", ".join(columns)),
        )
    if "weight" in summary.columns:
        return summary.group_by(list(columns)).aggregate(weight=summary.weight.sum())
    return summary.group_by(list(columns)).aggregate(weight=summary.count())
