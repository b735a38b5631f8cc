"""Survival: Kaplan-Meier retention curves, median lifetime and log-rank tests by segment.

The engine does the work that grows with the data: :func:`subscription_durations` reduces a
subscriptions table, and :func:`inactivity_durations` a shop's activity (completed orders or
events), to counts of identical ``(segment, duration, observed)`` rows. Kaplan-Meier and the
log-rank test depend on the data only through the number of events and of subjects at risk at
each time, so counts and raw rows give the same estimates. Curves are counted here with numpy
(lifelines' formulas, operation for operation, checked against lifelines in the tests); the
log-rank test is lifelines' on the counts (``weights=``).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd

from retain.errors import InvalidParameterError
from retain.facts import activity_rows, flag, require_columns, require_table
from retain.i18n import t
from retain.metrics._activity import Activity, paid_start
from retain.metrics._periods import as_datetime
from retain.metrics.retention import _activity, _check_by, customer_groups

__all__ = [
    "LogRankResult",
    "inactivity_durations",
    "kaplan_meier",
    "logrank_test",
    "subscription_durations",
    "survival_summary",
]

DurationUnit = Literal["day", "week", "month"]
_CURVE_COLUMNS = ("timeline", "survival", "ci_lower", "ci_upper", "at_risk", "observed", "censored")


def subscription_durations(
    subscriptions: ir.Table,
    *,
    unit: DurationUnit = "month",
    as_of: dt.datetime | dt.date | str | None = None,
    by: str | Sequence[str] | None = None,
) -> ir.Table:
    """Lifetimes of subscriptions as counts: ``by..., duration, observed, n``.

    Parameters
    ----------
    subscriptions
        ``customer_id``, ``started_at``, ``ended_at`` (plus ``trial_ends_at``: paid time only).
    unit
        ``day``, ``week`` (whole weeks) or ``month`` (whole calendar months: from 15 Jan to
        14 Mar is one month, to 15 Mar two).
    as_of
        End of observation (UTC). Subscriptions ending after it, or still open, are censored at
        it. Default: the latest start or end in the table.
    by
        Columns of ``subscriptions`` to split by (``plan``).

    Returns
    -------
    ibis.Table
        One row per distinct ``(by..., duration, observed)`` with its count ``n``; ``observed``
        is 1 for an observed end (churn) and 0 for censoring.
    """
    subs = require_table(subscriptions, name="subscriptions")
    require_columns(subs, name="subscriptions", columns=("customer_id", "started_at", "ended_at"))
    names = [by] if isinstance(by, str) else list(by or ())
    require_columns(subs, name="subscriptions", columns=names)
    _check_unit(unit)
    start = paid_start(subs)
    subs = subs.mutate(_start=start)
    subs = subs.filter(
        subs._start.notnull() & (subs.ended_at.isnull() | (subs.ended_at > subs._start))
    )
    cutoff = as_datetime(as_of, "as_of")
    if cutoff is None:
        top = subs.aggregate(
            _as_of=ibis.greatest(
                subs._start.max(), ibis.coalesce(subs.ended_at.max(), subs._start.max())
            )
        )
        subs = subs.cross_join(top)
        limit = subs._as_of
    else:
        limit = ibis.timestamp(cutoff)
        subs = subs.filter(subs._start <= limit)
    ended = subs.ended_at.notnull() & (subs.ended_at <= limit)
    stop = ibis.ifelse(ended, subs.ended_at, limit)
    observed = flag(ended)
    duration = _elapsed(subs._start, stop, unit)
    rows = subs.select(
        *[subs[n].cast("string").name(n) for n in names], duration=duration, observed=observed
    )
    return (
        rows.group_by([*names, "duration", "observed"])
        .agg(n=rows.count())
        .order_by([*names, "duration", "observed"])
    )


def _check_unit(unit: str) -> None:
    if unit not in ("day", "week", "month"):
        raise InvalidParameterError(
            t("metrics.bad_choice", name="unit", choices="'day', 'week', 'month'", value=repr(unit))
        )


def _elapsed(
    start: ir.TimestampValue, stop: ir.TimestampValue, unit: DurationUnit
) -> ir.IntegerValue:
    """Whole ``unit``s from ``start`` to ``stop`` (calendar months for ``month``)."""
    if unit == "month":
        months = (stop.year() * 12 + stop.month()) - (start.year() * 12 + start.month())
        # not yet a full month when the day (and time of day) has not come round again
        s_day = start.day() * 86_400 + _seconds_of_day(start)
        e_day = stop.day() * 86_400 + _seconds_of_day(stop)
        return (months - ibis.ifelse(e_day < s_day, 1, 0)).cast("int64")
    seconds = stop.epoch_seconds() - start.epoch_seconds()
    days = (seconds // 86_400).cast("int64")
    return days if unit == "day" else (days // 7).cast("int64")


def inactivity_durations(
    orders: ir.Table | None,
    *,
    horizon_days: int,
    activity: Activity | None = None,
    unit: DurationUnit = "month",
    as_of: dt.datetime | dt.date | str | None = None,
    customers: ir.Table | None = None,
    by: str | Sequence[str] | None = None,
) -> ir.Table:
    """Time to churn of shop customers as counts: ``by..., duration, observed, n``.

    A shop has no contract to end, so churn is the line's inactivity rule (``[[churn]]
    horizon_days`` H, as in :func:`retain.features.churn_labels` and :func:`lifecycle`): a
    customer churns when H days pass without activity. Their lifetime starts at their first
    activity and ends H days after the last activity before the first gap longer than H (the
    moment the rule declares them churned; a later comeback does not undo this first churn). A
    customer whose last activity is within H days before ``as_of`` has not churned yet: censored
    at ``as_of``. So every observed lifetime is at least H.

    Parameters
    ----------
    orders
        The ``orders`` table (activity = a completed order), or ``None`` with ``activity``.
    horizon_days
        H, the days without activity after which a customer has churned.
    activity
        :func:`~retain.metrics.order_activity` or :func:`~retain.metrics.event_activity`
        (subscriptions have an end: use :func:`subscription_durations`).
    unit
        ``day``, ``week`` or ``month``, as :func:`subscription_durations`.
    as_of
        End of observation (UTC); activity after it is ignored. Default: the latest activity.
    customers, by
        Split by customer columns or keys of their JSON ``attributes``, checked as
        :func:`~retain.metrics.period_metrics` checks them (an unknown name is an error that
        lists what exists). Customers missing from ``customers`` fall in a ``NULL`` group.
    """
    bad = isinstance(horizon_days, bool) or not isinstance(horizon_days, int)  # type: ignore[redundant-expr]
    if bad or horizon_days <= 0:
        raise InvalidParameterError(
            t("metrics.bad_horizon", value=repr(horizon_days)), hint=t("metrics.bad_horizon_hint")
        )
    _check_unit(unit)
    names = _check_by(by, customers)
    act = _activity(orders, activity)
    if act.kind == "subscriptions":
        raise InvalidParameterError(
            t("metrics.survival_needs_shop"), hint=t("metrics.survival_needs_shop_hint")
        )
    (rows,) = (
        activity_rows(orders=act.table, events=None, kind="orders")
        if act.kind == "orders"
        else activity_rows(orders=None, events=act.table, kind="events", event_names=act.names)
    )
    rows = rows.select(customer_id=rows.customer_id.cast("string"), at=rows.at)
    cutoff = as_datetime(as_of, "as_of")
    if cutoff is None:
        rows = rows.cross_join(rows.aggregate(_as_of=rows.at.max()))
    else:
        rows = rows.filter(rows.at <= ibis.timestamp(cutoff))
        rows = rows.mutate(_as_of=ibis.timestamp(cutoff))
    horizon = ibis.interval(days=horizon_days)
    w = ibis.window(group_by="customer_id", order_by="at")
    rows = rows.mutate(_next=rows.at.lead().over(w))
    # the gap after this activity is longer than H: churned H days after it
    lapse = ibis.ifelse(
        rows._next.isnull(), rows._as_of - horizon > rows.at, rows._next - horizon > rows.at
    )
    lives = rows.group_by("customer_id").agg(
        _first=rows.at.min(),
        _as_of=rows._as_of.max(),
        _last=rows.at.min(where=lapse),
    )
    churned = lives._last.notnull()
    stop = ibis.ifelse(churned, lives._last + horizon, lives._as_of)
    lives = lives.mutate(duration=_elapsed(lives._first, stop, unit), observed=flag(churned))
    if names:
        assert customers is not None
        groups = customer_groups(customers, names)
        lives = lives.left_join(groups, "customer_id").select(*lives.columns, *names)
    out = lives.select(*names, "duration", "observed")
    return (
        out.group_by([*names, "duration", "observed"])
        .agg(n=out.count())
        .order_by([*names, "duration", "observed"])
    )


def _seconds_of_day(ts: ir.TimestampValue) -> ir.IntegerValue:
    return (ts.hour() * 3600 + ts.minute() * 60 + ts.second()).cast("int64")


def _columns(
    durations: ir.Table | pd.DataFrame, by: str | Sequence[str] | None
) -> tuple[pd.DataFrame, list[str]]:
    """The durations as a frame (an Ibis table is executed; a frame is used without a copy)."""
    names = [by] if isinstance(by, str) else list(by or ())
    frame = durations.to_pandas() if isinstance(durations, ir.Table) else durations
    require_columns(frame, name="durations", columns=["duration", "observed", *names])
    return frame, names


@dataclass(frozen=True)
class _Events:
    """lifelines' event table of one curve: per distinct time, removed and observed counts."""

    time: npt.NDArray[np.float64]
    removed: npt.NDArray[np.float64]
    observed: npt.NDArray[np.float64]


def _events(
    duration: npt.NDArray[Any], died: npt.NDArray[np.bool_], n: npt.NDArray[np.float64] | None
) -> _Events:
    """Counts per distinct duration, by counting (integers in a compact range) or by sorting.

    lifelines adds the origin, ``min(0, first duration)``, where everyone enters; it is kept
    here so the curves carry the same rows.
    """
    counted = _count(duration, died, n)
    if counted is None:
        values = duration.astype(np.float64, copy=False)
        if not np.isfinite(values).all():
            bad = values[~np.isfinite(values)][0]
            raise InvalidParameterError(
                t("clv.rule_not_finite", column="duration", value=repr(float(bad))),
                hint=t("clv.rule_not_finite_hint"),
            )
        time, inverse = np.unique(values, return_inverse=True)
        removed = np.asarray(np.bincount(inverse, weights=n, minlength=time.size), np.float64)
        dead = died if n is None else n * died
        observed = np.asarray(np.bincount(inverse, weights=dead, minlength=time.size), np.float64)
    else:
        time, removed, observed = counted
    origin = min(0.0, float(time[0])) if time.size else 0.0
    if not time.size or time[0] != origin:
        time = np.concatenate([[origin], time])
        removed = np.concatenate([[0.0], removed])
        observed = np.concatenate([[0.0], observed])
    return _Events(time=time, removed=removed, observed=observed)


def _count(
    duration: npt.NDArray[Any], died: npt.NDArray[np.bool_], n: npt.NDArray[np.float64] | None
) -> tuple[npt.NDArray[np.float64], ...] | None:
    """Counts per distinct integer duration with ``bincount``.

    ``None`` when the durations are not integers in a range that fits a table of counts (the
    caller then sorts).
    """
    if not duration.size or duration.dtype.kind not in "iu":
        return None
    limit = max(4 * duration.size, 1 << 16)
    base, codes, top = 0, duration, int(duration.max())
    if top > limit or (duration.dtype.kind == "i" and int(duration.min()) < 0):
        base = int(duration.min())
        if top - base > limit:
            return None
        codes = duration - base
    size = top - base + 1
    removed, observed = np.zeros(size), np.zeros(size)
    # in slices, so bincount's float copy of the weights stays small; weights, not a boolean
    # selection, since bincount reads the rows in order and a selection does not
    for start in range(0, codes.size, 1 << 20):
        part = slice(start, start + (1 << 20))
        w = None if n is None else n[part]
        removed += np.bincount(codes[part], weights=w, minlength=size)
        dead = died[part] if w is None else w * died[part]
        observed += np.bincount(codes[part], weights=dead, minlength=size)
    keep = np.flatnonzero(removed)
    return (keep + base).astype(np.float64), removed[keep], observed[keep]


def _curve(events: _Events, alpha: float) -> pd.DataFrame:
    """Kaplan-Meier curve and exponential Greenwood bands, operation for operation as lifelines.

    lifelines (``KaplanMeierFitter``) sums ``log(n - d) - log(n)`` and the Greenwood terms
    ``d / (n (n - d))`` (0 where ``n = d``), then bounds ``S`` by
    ``exp(-exp(log(-log S) -+ z sqrt(var) / log S))`` (1 where undefined). The same floating
    point operations in the same order give the same numbers.
    """
    from scipy.stats import norm

    removed, deaths = events.removed, events.observed
    total = removed.sum()
    at_risk = total - np.concatenate([[0.0], np.cumsum(removed)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.cumsum(np.log(at_risk - deaths) - np.log(at_risk))
        terms = deaths / (at_risk * (at_risk - deaths))
        terms[np.isposinf(terms)] = 0.0
        var = np.cumsum(terms)
        survival = np.exp(log_s)
        v = np.log(survival)
        z = float(norm.ppf(1 - alpha / 2))
        lower = np.exp(-np.exp(np.log(-v) - z * np.sqrt(var) / v))
        upper = np.exp(-np.exp(np.log(-v) + z * np.sqrt(var) / v))
    return pd.DataFrame(
        {
            "timeline": events.time,
            "survival": survival,
            "ci_lower": np.nan_to_num(lower, nan=1.0),
            "ci_upper": np.nan_to_num(upper, nan=1.0),
            "at_risk": at_risk,
            "observed": deaths,
            "censored": np.trunc(removed - deaths),
        }
    )


def _curves(
    durations: ir.Table | pd.DataFrame, by: str | Sequence[str] | None
) -> list[tuple[tuple[object, ...], _Events]]:
    """One event table per segment of ``by`` (in sorted order; missing values last)."""
    frame, names = _columns(durations, by)
    duration = frame["duration"].to_numpy()
    if duration.dtype.kind not in "iuf":
        duration = duration.astype(np.float64)
    observed = frame["observed"].to_numpy()
    died = observed if observed.dtype == np.bool_ else observed.astype(np.int64, copy=False) != 0
    n: npt.NDArray[np.float64] | None = None
    keep: npt.NDArray[np.bool_] | None = None
    if "n" in frame.columns:
        n = frame["n"].to_numpy(dtype=np.float64)
        if not (n > 0).all():
            keep = n > 0
    if not names:
        if keep is not None:
            assert n is not None
            duration, died, n = duration[keep], died[keep], n[keep]
        return [((), _events(duration, died, n))] if duration.size else []
    out = []
    parts = frame.groupby(names, dropna=False, sort=True).indices
    for key, positions in parts.items():
        rows = np.asarray(positions, dtype=np.intp)
        if keep is not None:
            rows = rows[keep[rows]]
        if not rows.size:
            continue
        part_n = None if n is None else n[rows]
        label = tuple(key) if isinstance(key, tuple) else (key,)
        out.append((label, _events(duration[rows], died[rows], part_n)))
    return out


def kaplan_meier(
    durations: ir.Table | pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Kaplan-Meier survival (retention) curves with confidence bands, per segment.

    The estimates are lifelines' ``KaplanMeierFitter`` numbers (curves, exponential Greenwood
    bands and event table), computed here by counting so that raw durations (one row per
    customer) are not copied or sorted.

    Parameters
    ----------
    durations
        The output of :func:`subscription_durations` (or any table with ``duration``,
        ``observed`` and optionally a count ``n``).
    by
        Segment columns; one curve each.
    alpha
        1 - confidence level of the bands (lifelines' exponential Greenwood intervals).

    Returns
    -------
    pandas.DataFrame
        ``by..., timeline, survival, ci_lower, ci_upper, at_risk, observed, censored``; no rows
        when there are no durations.
    """
    if not 0 < alpha < 1:
        raise InvalidParameterError(t("metrics.bad_alpha", value=repr(alpha)))
    names = [by] if isinstance(by, str) else list(by or ())
    parts = []
    for key, events in _curves(durations, by):
        out = _curve(events, alpha)
        for i, value in enumerate(key):
            out.insert(i, names[i], value)  # type: ignore[arg-type]
        parts.append(out)
    if not parts:
        return pd.DataFrame(columns=[*names, *_CURVE_COLUMNS])
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def survival_summary(
    durations: ir.Table | pd.DataFrame, *, by: str | Sequence[str] | None = None
) -> pd.DataFrame:
    """Per segment: ``customers``, ``churned``, ``median_lifetime`` (``inf`` when not reached).

    The median is lifelines' ``median_survival_time_``: the first time the curve is at or
    below one half.
    """
    names = [by] if isinstance(by, str) else list(by or ())
    rows = []
    for key, events in _curves(durations, by):
        curve = _curve(events, 0.05)
        survival = curve["survival"].to_numpy()
        reached = survival.size and survival[-1] <= 0.5
        at = int(np.searchsorted(-survival, -0.5, side="left")) if reached else -1
        row: dict[str, object] = dict(zip(names, key, strict=True))
        row["customers"] = int(events.removed.sum())
        row["churned"] = int(events.observed.sum())
        row["median_lifetime"] = float(events.time[at]) if reached else float("inf")
        rows.append(row)
    return pd.DataFrame(rows, columns=[*names, "customers", "churned", "median_lifetime"])


@dataclass(frozen=True)
class LogRankResult:
    """A log-rank test of whether the segments' survival curves are the same."""

    statistic: float
    p_value: float
    degrees_of_freedom: int
    groups: tuple[str, ...]


def logrank_test(durations: ir.Table | pd.DataFrame, *, by: str | Sequence[str]) -> LogRankResult:
    """Log-rank test across the segments of ``by`` (lifelines' ``multivariate_logrank_test``)."""
    from lifelines.statistics import multivariate_logrank_test

    frame, names = _columns(durations, by)
    if not names:
        raise InvalidParameterError(t("metrics.logrank_needs_by"))
    if "n" in frame.columns:
        frame = frame[frame["n"] > 0]
    weights = frame["n"].astype("float64") if "n" in frame.columns else None
    labels = frame[names].astype("string").fillna("").agg(" / ".join, axis=1)
    if labels.nunique() < 2:
        raise InvalidParameterError(
            t("metrics.logrank_one_group", by=", ".join(names)),
            hint=t("metrics.logrank_one_group_hint"),
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = multivariate_logrank_test(
            frame["duration"].astype("float64"),
            labels,
            frame["observed"].astype("int64"),
            weights=weights,
        )
    return LogRankResult(
        statistic=float(result.test_statistic),
        p_value=float(result.p_value),
        degrees_of_freedom=int(result.degrees_of_freedom),
        groups=tuple(sorted(labels.unique())),
    )
