"""Lifecycle: each acquired customer's stage in every period, counted over time.

Every customer, from their first active period on, is in exactly one stage per period:

- ``new``: first-ever active period;
- ``returning``: active in this period and the previous one;
- ``resurrected``: active again after one or more inactive periods;
- ``dormant``: inactive, but their last activity is within the churn horizon;
- ``churned``: inactive for longer than the horizon (the configured churn definition,
  ``[[churn]] horizon_days``): the period's end is more than ``horizon_days`` after the last
  activity.

So, per period, the five counts add up to the customers acquired so far. The computation is
linear in the number of (customer, active period) pairs: inactive stretches are encoded as
start/stop deltas and summed with a running window, never expanded customer by period.

``customers`` and ``by`` split the counts by customer columns or attribute keys (checked as
:func:`~retain.metrics.period_metrics` checks them); each group's five counts then add up to
the group's customers acquired so far.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from retain.errors import InvalidParameterError
from retain.facts import DateLike, flag
from retain.i18n import t
from retain.metrics._activity import Activity
from retain.metrics._periods import PeriodLike, as_datetime, clip, period_spec, spine
from retain.metrics.retention import (
    _NULL_GROUP,
    _activity,
    _check_by,
    _with_groups,
    customer_groups,
    flagged_activity,
)

__all__ = ["LIFECYCLE_STAGES", "lifecycle"]

LIFECYCLE_STAGES: tuple[str, ...] = ("new", "returning", "resurrected", "dormant", "churned")
"""The stages of :func:`lifecycle`, in display order."""


def lifecycle(
    orders: ir.Table | None,
    *,
    period: PeriodLike = "month",
    activity: Activity | None = None,
    horizon_days: int = 90,
    tz: str = "UTC",
    start: DateLike | None = None,
    end: DateLike | None = None,
    customers: ir.Table | None = None,
    by: str | Sequence[str] | None = None,
) -> ir.Table:
    """Customers per lifecycle stage and period.

    Parameters
    ----------
    orders
        The ``orders`` table (activity = a completed order), or ``None`` with ``activity``.
    period
        ``day``, ``week``, ``month``, ``quarter``, ``year`` or custom range edges.
    activity
        What makes a customer active (default: a completed order).
    horizon_days
        Inactivity after which a customer counts as churned (``ChurnDefinition.horizon_days``).
    tz
        IANA time zone in which periods are cut.
    start, end
        Local dates bounding the periods returned.
    customers, by
        Split the counts by customer columns or keys of their JSON ``attributes``; an unknown
        name is an error listing what exists. Customers missing from ``customers`` fall in a
        ``NULL`` group.

    Returns
    -------
    ibis.Table
        The ``by`` columns then ``period_start, stage, customers``: five rows per period (and
        group), one per :data:`LIFECYCLE_STAGES`, ordered by group, period, then stage order.
    """
    bad_type = isinstance(horizon_days, bool) or not isinstance(horizon_days, int)  # type: ignore[redundant-expr]
    if bad_type or horizon_days <= 0:
        raise InvalidParameterError(
            t("metrics.bad_horizon", value=repr(horizon_days)), hint=t("metrics.bad_horizon_hint")
        )
    spec = period_spec(period, tz)
    start_at, end_at = as_datetime(start, "start"), as_datetime(end, "end")
    public = _check_by(by, customers)
    act = _activity(orders, activity)
    names = [f"_by{i}" for i in range(len(public))]  # never clash with the stage columns
    groups = None
    if public and customers is not None:
        groups = customer_groups(customers, public).rename(dict(zip(names, public, strict=True)))
    acts = _with_groups(flagged_activity(act, spec), groups, names)
    bounds = acts.aggregate(lo=acts.ordinal.min(), hi=acts.ordinal.max())
    periods = spine(bounds, spec, start=start_at, end=end_at)
    if names:
        periods = acts.select(*names).distinct().cross_join(periods)
    keys = [*names, "ordinal"]

    active = acts.group_by(keys).agg(
        new=flag(acts.prev.isnull()).sum(),
        returning=flag((acts.prev == acts.ordinal - 1).fill_null(False)).sum(),
        resurrected=flag(acts.prev.notnull() & (acts.prev < acts.ordinal - 1)).sum(),
    )

    # inactive stretches: from a + 1 to the next active period b (exclusive)
    w = ibis.window(group_by="customer_id", order_by="ordinal")
    gaps = acts.cross_join(bounds.select(top=bounds.hi))
    gaps = gaps.mutate(
        b=ibis.coalesce(gaps.ordinal.lead().over(w), gaps.top + 1),
        c=spec.ordinal_of_local(gaps.last_local + ibis.interval(days=horizon_days)),
    )
    gaps = gaps.mutate(c=ibis.coalesce(gaps.c, gaps.b))
    a1 = gaps.ordinal + 1
    dormant_end = ibis.least(gaps.c, gaps.b)
    churn_start = ibis.greatest(gaps.c, a1)
    gaps = gaps.select(*names, a1=a1, b=gaps.b, d_end=dormant_end, c_start=churn_start)
    one = ibis.literal(1, "int64")
    dormant = gaps.filter(gaps.a1 < gaps.d_end)
    churned = gaps.filter(gaps.c_start < gaps.b)
    deltas = ibis.union(
        dormant.select(*names, ordinal=dormant.a1, dormant=one, churned=one - 1),
        dormant.select(*names, ordinal=dormant.d_end, dormant=-one, churned=one - 1),
        churned.select(*names, ordinal=churned.c_start, dormant=one - 1, churned=one),
        churned.select(*names, ordinal=churned.b, dormant=one - 1, churned=-one),
        distinct=False,
    )
    moves = deltas.group_by(keys).agg(
        d_dormant=deltas.dormant.sum(), d_churned=deltas.churned.sum()
    )
    grid = periods.left_join(active, keys).select(
        *periods.columns, "new", "returning", "resurrected"
    )
    grid = grid.left_join(moves, keys).select(*grid.columns, "d_dormant", "d_churned")
    zero = ibis.literal(0, "int64")
    running = ibis.window(group_by=names or None, order_by="ordinal", preceding=None, following=0)
    grid = grid.mutate(
        dormant=ibis.coalesce(grid.d_dormant, zero).sum().over(running),
        churned=ibis.coalesce(grid.d_churned, zero).sum().over(running),
    )
    grid = clip(grid, spec, start_at, end_at)
    restored = {
        p: ibis.ifelse(grid[n] == _NULL_GROUP, ibis.null("string"), grid[n])
        for p, n in zip(public, names, strict=True)
    }
    parts = [
        grid.select(
            **restored,
            ordinal=grid.ordinal,
            period_start=grid.period_start,
            stage=ibis.literal(stage, "string"),
            stage_order=ibis.literal(i, "int64"),
            customers=ibis.coalesce(grid[stage], zero).cast("int64"),
        )
        for i, stage in enumerate(LIFECYCLE_STAGES)
    ]
    long = ibis.union(*parts, distinct=False)
    return long.order_by([*public, "ordinal", "stage_order"]).drop("ordinal", "stage_order")
