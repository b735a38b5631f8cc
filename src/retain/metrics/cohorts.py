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

``customers`` and ``by`` split every cohort by customer columns or attribute keys (checked as
:func:`~retain.metrics.period_metrics` checks them). :func:`cohort_customers` lists the
customers behind one cell: as many as the cell's ``active``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir

from retain.errors import InvalidParameterError
from retain.facts import net_revenue, require_table
from retain.i18n import t
from retain.metrics._activity import Activity
from retain.metrics._periods import PeriodLike, PeriodSpec, as_datetime, calendar, period_spec
from retain.metrics.retention import (
    _NULL_GROUP,
    _activity,
    _check_by,
    _with_groups,
    customer_groups,
)

__all__ = ["COHORT_COLUMNS", "cohort_customers", "cohort_retention", "cohort_sizes"]

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


def _groups(
    customers: ir.Table | None, by: str | Sequence[str] | None
) -> tuple[ir.Table | None, list[str], list[str]]:
    """Customer groups under internal names, the public names and the internal ones."""
    public = _check_by(by, customers)
    if not public or customers is None:
        return None, [], []
    names = [f"_by{i}" for i in range(len(public))]  # never clash with the cohort columns
    groups = customer_groups(customers, public)
    return groups.rename(dict(zip(names, public, strict=True))), public, names


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
    customers: ir.Table | None = None,
    by: str | Sequence[str] | None = None,
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
    customers, by
        Split each cohort by customer columns or keys of their JSON ``attributes``; an unknown
        name is an error listing what exists. Customers missing from ``customers`` fall in a
        ``NULL`` group.

    Returns
    -------
    ibis.Table
        The ``by`` columns then :data:`COHORT_COLUMNS`: one row per (group and) cohort and every
        ``period_index`` from 0 up to the last period with data (cells without activity hold
        0), ordered by group, cohort and index.
    """
    _choice("kind", kind, ("logo", "revenue"))
    _choice("mode", mode, ("classic", "unbounded"))
    if kind == "revenue" and orders is None:
        raise InvalidParameterError(t("metrics.revenue_needs_orders"))
    groups, public, names = _groups(customers, by)
    act = _activity(orders, activity)
    spec = period_spec(period, tz)
    pairs, span = _first_periods(act, period, tz)
    span = _with_groups(span, groups, names)
    cohort_keys = [*names, "cohort_ordinal"]
    cell_keys = [*cohort_keys, "period_index"]

    sizes = span.group_by(cohort_keys).agg(cohort_size=span.count())
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
        *cohort_keys, "cohort_size", period_index=grid.ordinal - grid.cohort_ordinal
    ).view()

    if mode == "classic":
        cells = pairs.join(span, "customer_id")
        cells = cells.mutate(period_index=cells.ordinal - cells.cohort_ordinal)
        active = cells.group_by(cell_keys).agg(active=cells.count())
    else:
        spans = span.mutate(period_index=span.last_ordinal - span.cohort_ordinal)
        active = spans.group_by(cell_keys).agg(ending=spans.count())

    active = active.view()
    joined = grid.left_join(active, cell_keys).select(
        *grid.columns, *(c for c in active.columns if c not in grid.columns)
    )
    zero = ibis.literal(0, "int64")
    if mode == "unbounded":
        later = ibis.window(
            group_by=cohort_keys, order_by="period_index", preceding=0, following=None
        )
        joined = joined.mutate(active=ibis.coalesce(joined.ending, zero).sum().over(later)).drop(
            "ending"
        )
    if money is not None:
        cell_money = money.group_by(cell_keys).agg(revenue=money.revenue.sum())
        cell_money = cell_money.view()
        joined = joined.left_join(cell_money, cell_keys).select(*joined.columns, "revenue")
        revenue = ibis.coalesce(joined.revenue, ibis.literal(0.0, "float64"))
    else:
        revenue = ibis.null("float64")
    joined = joined.mutate(active=ibis.coalesce(joined.active, zero).cast("int64"), revenue=revenue)
    upto = ibis.window(group_by=cohort_keys, order_by="period_index", preceding=None, following=0)
    size = joined.cohort_size.cast("float64")
    value = joined.active.cast("float64") / size * 100.0 if kind == "logo" else joined.revenue
    out = joined.mutate(
        value=value,
        cumulative_revenue_per_customer=joined.revenue.sum().over(upto) / size,
    )
    out = out.join(cal, out.cohort_ordinal == cal.ordinal)
    restored = {
        p: ibis.ifelse(out[n] == _NULL_GROUP, ibis.null("string"), out[n])
        for p, n in zip(public, names, strict=True)
    }
    out = out.select(
        **restored,
        cohort=out.period_start,
        period_index=out.period_index.cast("int64"),
        cohort_size=out.cohort_size.cast("int64"),
        active=out.active,
        value=out.value.cast("float64"),
        revenue=out.revenue.cast("float64"),
        cumulative_revenue_per_customer=out.cumulative_revenue_per_customer.cast("float64"),
    )
    return out.order_by([*public, "cohort", "period_index"])


def cohort_customers(
    orders: ir.Table | None,
    *,
    cohort: dt.date | dt.datetime | str,
    period_index: int,
    period: PeriodLike = "month",
    mode: Literal["classic", "unbounded"] = "classic",
    activity: Activity | None = None,
    tz: str = "UTC",
    customers: ir.Table | None = None,
    where: Mapping[str, str | None] | None = None,
) -> ir.Table:
    """The customers behind one cell of :func:`cohort_retention`: ``customer_id``.

    The customers acquired in the period starting ``cohort`` (its ``period_start``, a local
    date) who are active in period ``period_index`` (``classic``) or in it or later
    (``unbounded``): exactly the cell's ``active`` customers. ``where`` narrows to one group of
    a ``by`` split (``{"country": "JP"}``; ``None`` for the ``NULL`` group), checked like
    ``by``. Ordered by ``customer_id``.
    """
    _choice("mode", mode, ("classic", "unbounded"))
    spec = period_spec(period, tz)
    start = as_datetime(cohort, "cohort")
    first = _cohort_ordinal(spec, start)
    bad_index = isinstance(period_index, bool) or not isinstance(period_index, int)  # type: ignore[redundant-expr]
    if first is None or bad_index or period_index < 0:
        raise InvalidParameterError(
            t("metrics.bad_cohort_cell", cohort=repr(str(cohort)), period=spec.label),
            hint=t("metrics.bad_cohort_cell_hint"),
        )
    act = _activity(orders, activity)
    pairs, span = _first_periods(act, period, tz)
    span = span.filter(span.cohort_ordinal == first)
    target = first + period_index
    if mode == "classic":
        hit = pairs.filter(pairs.ordinal == target).select("customer_id")
        chosen = span.join(hit, "customer_id").select("customer_id")
    else:
        chosen = span.filter(span.last_ordinal >= target).select("customer_id")
    wanted = dict(where or {})
    if wanted:
        groups, public, names = _groups(customers, list(wanted))
        assert groups is not None
        chosen = _with_groups(chosen, groups, names)
        for p, n in zip(public, names, strict=True):
            value = wanted[p]
            chosen = chosen.filter(chosen[n] == (_NULL_GROUP if value is None else str(value)))
        chosen = chosen.select("customer_id")
    return chosen.order_by("customer_id")


def _cohort_ordinal(spec: PeriodSpec, start: dt.datetime | None) -> int | None:
    """The ordinal of the period that starts exactly at ``start`` (None when none does)."""
    if start is None:
        return None
    ordinal = spec.python_ordinal(start)
    if ordinal is None:
        return None
    later = spec.python_ordinal(start - dt.timedelta(microseconds=1))
    return ordinal if later != ordinal else None
