"""Period metrics: customers at start and end, new, lost, reactivated, churn and retention rates.

The default, stated once (``docs/metrics.md``): a customer *counts* in a period when they have
activity in it (a completed order by default). For period ``p``:

- ``customers_start`` S = customers counted in ``p - 1``;
- ``customers_end`` E = customers counted in ``p``;
- ``new_customers`` N = customers whose first-ever activity falls in ``p``;
- ``lost_customers`` L = counted in ``p - 1`` but not in ``p``;
- ``reactivated_customers`` = E - N - (S - L): back after one or more inactive periods;
- ``churn_rate`` = L / S x 100 and ``retention_rate`` = (E - N) / S x 100, the customer
  retention rate (CRR) as seed 001 defines it; ``strict_retention_rate`` = (S - L) / S x 100,
  the share of the start's customers still counted at the end; all ``NULL`` when S = 0.

CRR can pass 100 %: E - N counts every returning customer, including those *reactivated*
after one or more inactive periods, who are not among the S customers of the start. On CDNOW
it reads 105.65 % in June 1997 and 132.82 % in March 1998. The strict rate never passes 100 %
and equals 100 - churn rate.

With subscription activity a customer counts in ``p`` when a paid subscription is live at the
end of ``p``, the snapshot :func:`~retain.metrics.mrr_movements` takes, so ``lost_customers``
equals MRR's ``churned_customers`` period by period.

Order figures use completed orders whatever the activity definition: ``revenue`` (net of
returns), ``average_order_value`` = revenue / orders, ``purchase_frequency`` = orders / buyers,
``revenue_per_customer`` = revenue / buyers and ``repeat_purchase_rate`` = share of the
period's buyers whose purchase in it is at least their second ever, in percent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from retain.errors import InvalidParameterError, MissingColumnError, Violation
from retain.facts import (
    DateLike,
    completed_orders,
    flag,
    json_text,
    net_revenue,
    require_columns,
    require_table,
)
from retain.i18n import t
from retain.metrics._activity import Activity, order_activity
from retain.metrics._periods import (
    PeriodLike,
    PeriodSpec,
    as_datetime,
    clip,
    period_spec,
    spine,
)

__all__ = ["PERIOD_COLUMNS", "customer_groups", "period_metrics"]

PERIOD_COLUMNS: tuple[str, ...] = (
    "period_start",
    "customers_start",
    "customers_end",
    "new_customers",
    "lost_customers",
    "reactivated_customers",
    "churn_rate",
    "retention_rate",
    "strict_retention_rate",
    "repeat_purchase_rate",
    "purchase_frequency",
    "average_order_value",
    "revenue",
    "revenue_per_customer",
)
"""The columns of :func:`period_metrics`, in order (``by`` columns come first)."""


def customer_groups(customers: ir.Table, by: Sequence[str]) -> ir.Table:
    """``customer_id`` plus one column per name in ``by``.

    A name is a column of ``customers`` (``country``, ``acquisition_channel``) or a key of its
    JSON ``attributes`` (``segment``, ``plan``), read as text. A name that is neither, a key no
    customer has, ``customer_id`` or a name given twice raises a :class:`RetainError` whose hint
    lists the columns and attribute keys that exist (one NULL group would look like an answer).
    """
    require_table(customers, name="customers")
    require_columns(customers, name="customers", columns=("customer_id",))
    columns: dict[str, ir.Value] = {"customer_id": customers.customer_id.cast("string")}
    bad: list[Violation] = []
    keys: list[str] = []
    repeated = sorted({n for n in by if list(by).count(n) > 1})
    if repeated:
        raise InvalidParameterError(
            t("metrics.by_repeated", by=", ".join(repeated)), hint=_by_hint(customers)
        )
    for name in by:
        if name == "customer_id":
            bad.append(_bad_group(customers, name, "bad_group", t("metrics.by_customer_id")))
        elif name in customers.columns:
            columns[name] = customers[name].cast("string")
        elif "attributes" in customers.columns and _ATTRIBUTE_KEY.fullmatch(name):
            columns[name] = json_text(customers.attributes, name)
            keys.append(name)
        else:
            message = t("facts.missing_column", column=name, table="customers")
            bad.append(_bad_group(customers, name, "missing_column", message))
    if not bad and keys:
        # one engine pass: does any customer carry each attributes key?
        seen = customers.aggregate(
            **{f"_k{i}": columns[k].notnull().any() for i, k in enumerate(keys)}
        ).to_pyarrow()
        for i, key in enumerate(keys):
            if not seen.column(f"_k{i}")[0].as_py():
                message = t("metrics.by_no_such_key", key=key)
                bad.append(_bad_group(customers, key, "missing_column", message))
    if bad:
        raise MissingColumnError(bad)
    picked = customers.select(**columns)
    # one row per customer even if the table repeats one (the largest value wins, on any engine)
    return picked.group_by("customer_id").agg(**{n: picked[n].max() for n in by})


_KEY_SAMPLE = 1000
"""Customers whose ``attributes`` keys are listed in an error's hint (a sample keeps it cheap)."""


def _by_hint(customers: ir.Table) -> str:
    """What ``by`` may name: the columns of ``customers`` and the attribute keys in a sample."""
    present = ", ".join(c for c in customers.columns if c not in {"customer_id", "attributes"})
    keys: set[str] = set()
    if "attributes" in customers.columns:
        sample = customers.select(a=customers.attributes.cast("string"))
        sample = sample.filter(sample.a.notnull()).limit(_KEY_SAMPLE).to_pyarrow()
        for text in sample.column("a").to_pylist():
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                keys.update(k for k in value if _ATTRIBUTE_KEY.fullmatch(k))
    return t(
        "metrics.by_hint",
        present=present,
        keys=", ".join(sorted(keys)) or t("metrics.by_no_keys"),
    )


def _bad_group(customers: ir.Table, name: str, rule: str, message: str) -> Violation:
    return Violation(
        rule=rule, message=message, file="customers", column=name, hint=_by_hint(customers)
    )


_NULL_GROUP = "\u2205retain-null"
"""Stands for a missing group value inside the computation (SQL joins never match NULL keys)."""


_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_]+")


def _with_groups(table: ir.Table, groups: ir.Table | None, by: list[str]) -> ir.Table:
    if groups is None:
        return table
    joined = table.left_join(groups, "customer_id")
    return joined.select(
        *table.columns, **{n: ibis.coalesce(joined[n], ibis.literal(_NULL_GROUP)) for n in by}
    )


def _check_by(by: str | Sequence[str] | None, customers: ir.Table | None) -> list[str]:
    names = [by] if isinstance(by, str) else list(by or ())
    if names and customers is None:
        raise InvalidParameterError(
            t("metrics.by_needs_customers", by=", ".join(names)),
            hint=t("metrics.by_needs_customers_hint"),
        )
    return names


def _activity(orders: ir.Table | None, activity: Activity | None) -> Activity:
    if activity is not None:
        if not isinstance(activity, Activity):
            raise InvalidParameterError(
                t("metrics.bad_activity", kind=type(activity).__name__),
                hint=t("metrics.bad_activity_hint"),
            )
        return activity
    if orders is None:
        raise InvalidParameterError(t("metrics.no_input"), hint=t("metrics.no_input_hint"))
    return order_activity(require_table(orders, name="orders"))


def flagged_activity(act: Activity, spec: PeriodSpec) -> ir.Table:
    """Activity periods with ``prev`` (the customer's previous active ordinal, or NULL)."""
    pairs = act.periods(spec)
    w = ibis.window(group_by="customer_id", order_by="ordinal")
    return pairs.mutate(
        prev=pairs.ordinal.lag().over(w),
        first=pairs.ordinal.min().over(ibis.window(group_by="customer_id")),
    )


def period_metrics(
    orders: ir.Table | None,
    *,
    period: PeriodLike = "month",
    activity: Activity | None = None,
    customers: ir.Table | None = None,
    by: str | Sequence[str] | None = None,
    tz: str = "UTC",
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> ir.Table:
    """Customer counts, churn and retention rates and order figures for every period.

    Parameters
    ----------
    orders
        The ``orders`` table (``customer_id``, ``ordered_at``, ``amount``, optional
        ``status``). May be ``None`` when ``activity`` is given; order figures are then NULL.
    period
        ``day``, ``week`` (Monday to Sunday), ``month``, ``quarter``, ``year``, or the sorted
        local edges of custom ranges.
    activity
        What makes a customer count in a period (default: a completed order); see
        :func:`~retain.metrics.event_activity` and :func:`~retain.metrics.subscription_activity`.
    customers, by
        Slice every figure by customer attributes: columns of ``customers`` or keys of its JSON
        ``attributes``. Customers missing from ``customers`` fall in a ``NULL`` group.
    tz
        IANA time zone in which periods are cut (timestamps are stored as UTC).
    start, end
        Local dates: keep the periods containing them and those between; periods outside the
        data are filled with zeros.

    Returns
    -------
    ibis.Table
        The ``by`` columns then :data:`PERIOD_COLUMNS`, one row per period (and group), every
        period between the first and last activity included, ordered by ``period_start``. Rates
        are percentages.
    """
    spec = period_spec(period, tz)
    start_at, end_at = as_datetime(start, "start"), as_datetime(end, "end")
    names = _check_by(by, customers)
    act = _activity(orders, activity)
    groups = customer_groups(customers, names) if customers is not None and names else None
    public = names
    names = [f"_by{i}" for i in range(len(public))]  # internal names never clash with ours
    if groups is not None:
        groups = groups.rename({k: n for k, n in zip(names, public, strict=True)})

    acts = _with_groups(flagged_activity(act, spec), groups, names)
    is_new = acts.prev.isnull()
    kept = (acts.prev == acts.ordinal - 1).fill_null(False)
    counts = acts.group_by([*names, "ordinal"]).agg(
        customers_end=acts.count(),
        new_customers=flag(is_new).sum(),
        retained=flag(kept).sum(),
    )
    bounds_parts = [acts.select(o=acts.ordinal, **{n: acts[n] for n in names})]
    ends = act.ends(spec)
    if ends is not None:  # subscriptions: run to the period where the last one ends
        ends = _with_groups(ends, groups, names)
        bounds_parts.append(ends.select(o=ends.ordinal, **{n: ends[n] for n in names}))

    order_figures: ir.Table | None = None
    if orders is not None:
        order_figures, order_bounds = _order_figures(orders, spec, groups, names)
        bounds_parts.append(order_bounds)

    everything = (
        ibis.union(*bounds_parts, distinct=False) if len(bounds_parts) > 1 else bounds_parts[0]
    )
    bounds = everything.aggregate(lo=everything.o.min(), hi=everything.o.max())
    periods = spine(bounds, spec, start=start_at, end=end_at)
    if names:
        keys = everything.select(*names).distinct()
        periods = keys.cross_join(periods)

    grid = periods.left_join(counts, [*names, "ordinal"]).select(
        *periods.columns, "customers_end", "new_customers", "retained"
    )
    if order_figures is not None:
        grid = grid.left_join(order_figures, [*names, "ordinal"]).select(
            *grid.columns, "orders", "buyers", "repeat_buyers", "revenue"
        )
    zero = ibis.literal(0, "int64")
    grid = grid.mutate(
        customers_end=ibis.coalesce(grid.customers_end, zero),
        new_customers=ibis.coalesce(grid.new_customers, zero),
        retained=ibis.coalesce(grid.retained, zero),
    )
    w = ibis.window(group_by=names or None, order_by="ordinal")
    grid = grid.mutate(customers_start=ibis.coalesce(grid.customers_end.lag().over(w), zero))
    s = grid.customers_start
    e = grid.customers_end
    n = grid.new_customers
    lost = s - grid.retained
    rate_base = ibis.ifelse(s > 0, s.cast("float64"), ibis.null("float64"))
    cols: dict[str, ir.Value] = {
        "period_start": grid.period_start,
        "customers_start": s.cast("int64"),
        "customers_end": e.cast("int64"),
        "new_customers": n.cast("int64"),
        "lost_customers": lost.cast("int64"),
        "reactivated_customers": (e - n - grid.retained).cast("int64"),
        "churn_rate": lost.cast("float64") / rate_base * 100.0,
        "retention_rate": (e - n).cast("float64") / rate_base * 100.0,
        "strict_retention_rate": grid.retained.cast("float64") / rate_base * 100.0,
    }
    if order_figures is not None:
        n_orders = ibis.coalesce(grid.orders, zero)
        buyers = ibis.coalesce(grid.buyers, zero)
        revenue = ibis.coalesce(grid.revenue, ibis.literal(0.0, "float64"))
        per_buyer = ibis.ifelse(buyers > 0, buyers.cast("float64"), ibis.null("float64"))
        per_order = ibis.ifelse(n_orders > 0, n_orders.cast("float64"), ibis.null("float64"))
        cols |= {
            "repeat_purchase_rate": ibis.coalesce(grid.repeat_buyers, zero).cast("float64")
            / per_buyer
            * 100.0,
            "purchase_frequency": n_orders.cast("float64") / per_buyer,
            "average_order_value": revenue / per_order,
            "revenue": revenue,
            "revenue_per_customer": revenue / per_buyer,
        }
    else:
        nothing = ibis.null("float64")
        cols |= {
            c: nothing
            for c in (
                "repeat_purchase_rate",
                "purchase_frequency",
                "average_order_value",
                "revenue",
                "revenue_per_customer",
            )
        }
    restored = {
        p: ibis.ifelse(grid[n] == _NULL_GROUP, ibis.null("string"), grid[n])
        for p, n in zip(public, names, strict=True)
    }
    out = grid.select(**restored, ordinal=grid.ordinal, **cols)
    out = clip(out, spec, start_at, end_at)
    return out.order_by([*public, "ordinal"]).drop("ordinal")


def _order_figures(
    orders: ir.Table, spec: PeriodSpec, groups: ir.Table | None, names: list[str]
) -> tuple[ir.Table, ir.Table]:
    """Per (group, ordinal): orders, buyers, repeat buyers, net revenue; and the ordinals seen."""
    done = completed_orders(require_table(orders, name="orders"))
    order_key = [done.ordered_at]
    if "order_id" in done.columns:
        order_key.append(done.order_id)
    seq = ibis.row_number().over(ibis.window(group_by=done.customer_id, order_by=order_key))
    done = done.select(
        customer_id=done.customer_id.cast("string"),
        ordinal=spec.ordinal(done.ordered_at),
        seq=seq + 1,
    )
    done = done.filter(done.ordinal.notnull())
    done = _with_groups(done, groups, names)
    per_buyer = done.group_by([*names, "customer_id", "ordinal"]).agg(
        n=done.count(), top=done.seq.max()
    )
    buyers = per_buyer.group_by([*names, "ordinal"]).agg(
        orders=per_buyer.n.sum().cast("int64"),
        buyers=per_buyer.count(),
        repeat_buyers=flag(per_buyer.top >= 2).sum(),
    )
    money = net_revenue(orders)
    money = money.select(
        customer_id=money.customer_id.cast("string"),
        ordinal=spec.ordinal(money.ordered_at),
        revenue=money.revenue,
    )
    money = _with_groups(money.filter(money.ordinal.notnull()), groups, names)
    revenue = money.group_by([*names, "ordinal"]).agg(revenue=money.revenue.sum())
    figures = revenue.outer_join(buyers, [*names, "ordinal"])
    merged = figures.select(
        **{k: ibis.coalesce(figures[k], figures[f"{k}_right"]) for k in [*names, "ordinal"]},
        orders=figures.orders,
        buyers=figures.buyers,
        repeat_buyers=figures.repeat_buyers,
        revenue=figures.revenue,
    )
    seen = money.select(o=money.ordinal, **{n: money[n] for n in names})
    return merged, seen
