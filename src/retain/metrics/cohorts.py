"""Acquisition cohorts: who is still active ``k`` periods after their first activity.

A customer's *cohort* is the period of their first activity (first completed order by default);
``period_index`` k counts periods since then (0 = the acquisition period). Two variants, as
PostHog and Amplitude offer them:

- ``classic`` (period k): the customer is active in period k itself;
- ``unbounded`` (k or later): the customer is active in period k or any later period, so the
  curve never rises and reads as "still a customer".

Revenue cohorts sum net revenue (returns subtracted) of the cohort's customers in period k;
``cumulative_revenue_per_customer`` divides the running total by the cohort size ("when do
higher-revenue cohorts appear").
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir

from retain.errors import InvalidParameterError
from retain.facts import net_revenue, require_table
from retain.i18n import t
from retain.metrics._activity import Activity
from retain.metrics._periods import PeriodLike, calendar, period_spec
from retain.metrics.retention import _activity

__all__ = ["COHORT_COLUMNS", "cohort_retention", "cohort_sizes"]

COHORT_COLUMNS: tuple[str, ...] = (
    "cohort",
    "period_index",
    "cohort_size",
    "active",
    "value",
    "revenue",
    "cumulative_revenue_per_customer",
)
"""The columns of :func:`cohort_retention`, in order."""


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidParameterError(
            t(
                "metrics.bad_choice",
                name=name,
                choices=", ".join(repr(c) for c in choices),
                value=repr(value),
            )
        )


def _first_periods(act: Activity, period: PeriodLike, tz: str) -> tuple[ir.Table, ir.Table]:
    spec = period_spec(period, tz)
    pairs = act.periods(spec)
    span = pairs.group_by("customer_id").agg(
        cohort_ordinal=pairs.ordinal.min(), last_ordinal=pairs.ordinal.max()
    )
    return pairs, span


def cohort_sizes(
    orders: ir.Table | None,
    *,
    period: PeriodLike = "month",
    activity: Activity | None = None,
    tz: str = "UTC",
) -> ir.Table:
    """Customers acquired per period: ``cohort`` (period start), ``cohort_size``."""
    act = _activity(orders, activity)
    spec = period_spec(period, tz)
    _, span = _first_periods(act, period, tz)
    sizes = span.group_by("cohort_ordinal").agg(cohort_size=span.count())
    cal = calendar(spec)
    out = sizes.join(cal, sizes.cohort_ordinal == cal.ordinal)
    return out.select(cohort=out.period_start, cohort_size=out.cohort_size).order_by("cohort")


def cohort_retention(
    orders: ir.Table | None,
    *,
    period: PeriodLike = "month",
    kind: Literal["logo", "revenue"] = "logo",
    mode: Literal["classic", "unbounded"] = "classic",
    activity: Activity | None = None,
    tz: str = "UTC",
) -> ir.Table:
    """The cohort matrix: acquisition cohort x periods since acquisition.

    Parameters
    ----------
    orders
        The ``orders`` table; revenue always comes from it. ``None`` is allowed with
        ``activity`` and ``kind="logo"``.
    period
        ``day``, ``week``, ``month``, ``quarter``, ``year`` or custom range edges.
    kind
        ``logo``: ``value`` is the share of the cohort active, in percent. ``revenue``:
        ``value`` is the cohort's net revenue in the period.
    mode
        ``classic`` (active in period k) or ``unbounded`` (active in k or later); it changes
        ``active`` (and so the logo ``value``), not the revenue columns.
    activity
        What makes a customer active (default: a completed order).
    tz
        IANA time zone in which periods are cut.

    Returns
    -------
    ibis.Table
        :data:`COHORT_COLUMNS`: one row per cohort and every ``period_index`` from 0 up to the
        last period with data (cells without activity hold 0), ordered by cohort and index.
    """
    _choice("kind", kind, ("logo", "revenue"))
    _choice("mode", mode, ("classic", "unbounded"))
    if kind == "revenue" and orders is None:
        raise InvalidParameterError(t("metrics.revenue_needs_orders"))
    act = _activity(orders, activity)
    spec = period_spec(period, tz)
    pairs, span = _first_periods(act, period, tz)

    sizes = span.group_by("cohort_ordinal").agg(cohort_size=span.count())
    ordinals = [pairs.select(o=pairs.ordinal)]
    money: ir.Table | None = None
    if orders is not None:
        rev = net_revenue(require_table(orders, name="orders"))
        rev = rev.select(
            customer_id=rev.customer_id.cast("string"),
            ordinal=spec.ordinal(rev.ordered_at),
            revenue=rev.revenue,
        )
        rev = rev.filter(rev.ordinal.notnull())
        money = rev.join(span, "customer_id")
        money = money.mutate(period_index=money.ordinal - money.cohort_ordinal)
        money = money.filter(money.period_index >= 0)
        ordinals.append(money.select(o=money.ordinal))
    seen = ibis.union(*ordinals, distinct=False) if len(ordinals) > 1 else ordinals[0]
    hi = seen.aggregate(hi=seen.o.max())

    cal = calendar(spec)
    grid = sizes.cross_join(hi)
    grid = grid.join(cal, [cal.ordinal >= grid.cohort_ordinal, cal.ordinal <= grid.hi])
    grid = grid.select(
        "cohort_ordinal", "cohort_size", period_index=grid.ordinal - grid.cohort_ordinal
    ).view()

    if mode == "classic":
        cells = pairs.join(span, "customer_id")
        cells = cells.mutate(period_index=cells.ordinal - cells.cohort_ordinal)
        active = cells.group_by(["cohort_ordinal", "period_index"]).agg(active=cells.count())
    else:
        spans = span.mutate(period_index=span.last_ordinal - span.cohort_ordinal)
        active = spans.group_by(["cohort_ordinal", "period_index"]).agg(ending=spans.count())

    active = active.view()
    joined = grid.left_join(active, ["cohort_ordinal", "period_index"]).select(
        *grid.columns, *(c for c in active.columns if c not in grid.columns)
    )
    zero = ibis.literal(0, "int64")
    if mode == "unbounded":
        later = ibis.window(
            group_by="cohort_ordinal", order_by="period_index", preceding=0, following=None
        )
        joined = joined.mutate(active=ibis.coalesce(joined.ending, zero).sum().over(later)).drop(
            "ending"
        )
    if money is not None:
        cell_money = money.group_by(["cohort_ordinal", "period_index"]).agg(
            revenue=money.revenue.sum()
        )
        cell_money = cell_money.view()
        joined = joined.left_join(cell_money, ["cohort_ordinal", "period_index"]).select(
            *joined.columns, "revenue"
        )
        revenue = ibis.coalesce(joined.revenue, ibis.literal(0.0, "float64"))
    else:
        revenue = ibis.null("float64")
    joined = joined.mutate(active=ibis.coalesce(joined.active, zero).cast("int64"), revenue=revenue)
    upto = ibis.window(
        group_by="cohort_ordinal", order_by="period_index", preceding=None, following=0
    )
    size = joined.cohort_size.cast("float64")
    value = joined.active.cast("float64") / size * 100.0 if kind == "logo" else joined.revenue
    out = joined.mutate(
        value=value,
        cumulative_revenue_per_customer=joined.revenue.sum().over(upto) / size,
    )
    out = out.join(cal, out.cohort_ordinal == cal.ordinal)
    out = out.select(
        cohort=out.period_start,
        period_index=out.period_index.cast("int64"),
        cohort_size=out.cohort_size.cast("int64"),
        active=out.active,
        value=out.value.cast("float64"),
        revenue=out.revenue.cast("float64"),
        cumulative_revenue_per_customer=out.cumulative_revenue_per_customer.cast("float64"),
    )
    return out.order_by(["cohort", "period_index"])
