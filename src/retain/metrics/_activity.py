"""What makes a customer "active" in a period, and the order facts every metric shares.

The default activity is a completed order. :class:`Activity` generalises it to any event, named
events, or an active subscription, so that every period metric, cohort table and lifecycle chart
can be computed for any definition (seed 003: "churn indicators differ by company").

Orders conventions (stated in ``docs/metrics.md``):

- An order is *activity* when its ``status`` is ``completed`` (or empty) and its amount is
  not negative. Cancelled orders are ignored.
- *Revenue* is net of refunds: completed amounts (a negative completed amount is a refund
  line) minus the absolute amount of orders with status ``returned``, in the period the row
  is dated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import ibis
import ibis.expr.types as ir

from retain.errors import InvalidParameterError, MissingColumnError, Violation
from retain.i18n import t
from retain.metrics._periods import PeriodSpec, calendar

__all__ = [
    "Activity",
    "event_activity",
    "order_activity",
    "subscription_activity",
]


def require_columns(table: ir.Table, *, name: str, columns: Sequence[str]) -> None:
    """Raise :class:`MissingColumnError` naming every one of ``columns`` absent from ``table``."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        present = ", ".join(table.columns)
        violations = [
            Violation(
                rule="missing_column",
                message=t("metrics.missing_column", column=c, table=name),
                file=name,
                column=c,
                hint=t("metrics.missing_column_hint", present=present),
            )
            for c in missing
        ]
        raise MissingColumnError(violations)


def require_table(table: object, *, name: str) -> ir.Table:
    """``table`` if it is an Ibis table, else an :class:`InvalidParameterError`."""
    if not isinstance(table, ir.Table):
        raise InvalidParameterError(
            t("metrics.not_a_table", name=name, kind=type(table).__name__),
            hint=t("metrics.not_a_table_hint"),
        )
    return table


def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``condition`` holds, else 0 (PostgreSQL cannot cast booleans to bigint)."""
    return ibis.ifelse(condition, ibis.literal(1, "int64"), ibis.literal(0, "int64"))


def completed_orders(orders: ir.Table) -> ir.Table:
    """Orders that count as activity: completed (or no status) with a non-negative amount."""
    require_columns(orders, name="orders", columns=("customer_id", "ordered_at", "amount"))
    amount = orders.amount.cast("float64")
    keep = amount >= 0
    if "status" in orders.columns:
        keep = keep & (orders.status.isnull() | (orders.status == "completed"))
    return orders.filter(keep & orders.ordered_at.notnull() & orders.customer_id.notnull())


def net_revenue(orders: ir.Table) -> ir.Table:
    """``customer_id, ordered_at, revenue``: completed amounts, returns as negative amounts."""
    require_columns(orders, name="orders", columns=("customer_id", "ordered_at", "amount"))
    amount = orders.amount.cast("float64")
    if "status" in orders.columns:
        status = orders.status
        revenue = ibis.cases(
            (status.isnull() | (status == "completed"), amount),
            (status == "returned", -amount.abs()),
            else_=ibis.null("float64"),
        )
    else:
        revenue = amount
    out = orders.select(orders.customer_id, orders.ordered_at, revenue=revenue.cast("float64"))
    return out.filter(out.revenue.notnull() & out.ordered_at.notnull())


@dataclass(frozen=True)
class Activity:
    """A definition of customer activity over one table.

    Build it with :func:`order_activity`, :func:`event_activity` or
    :func:`subscription_activity`; metrics call :meth:`periods`.
    """

    kind: Literal["orders", "events", "subscriptions"]
    table: ir.Table = field(compare=False)
    names: tuple[str, ...] = ()

    def periods(self, spec: PeriodSpec) -> ir.Table:
        """One row per (customer, period) with activity: ``customer_id, ordinal, last_local``.

        ``last_local`` is the local time of the customer's last activity in that period (for
        a subscription, the end of the period or the local end of the subscription).
        """
        if self.kind == "subscriptions":
            return _subscription_periods(self.table, spec)
        if self.kind == "orders":
            rows = completed_orders(self.table)
            at = rows.ordered_at
        else:
            rows = self.table
            if self.names:
                rows = rows.filter(rows.name.isin(list(self.names)))
            rows = rows.filter(rows.occurred_at.notnull() & rows.customer_id.notnull())
            at = rows.occurred_at
        from retain.metrics._periods import local_time

        local = local_time(at, spec.tz)
        stamped = rows.select(customer_id=rows.customer_id.cast("string"), local=local)
        stamped = stamped.mutate(ordinal=spec.ordinal_of_local(stamped.local))
        stamped = stamped.filter(stamped.ordinal.notnull())
        return stamped.group_by(["customer_id", "ordinal"]).agg(last_local=stamped.local.max())


def order_activity(orders: ir.Table) -> Activity:
    """Activity = a completed order (the default of every metric)."""
    require_table(orders, name="orders")
    require_columns(orders, name="orders", columns=("customer_id", "ordered_at", "amount"))
    return Activity("orders", orders)


def event_activity(events: ir.Table, names: Sequence[str] | str | None = None) -> Activity:
    """Activity = any event, or only events whose ``name`` is in ``names`` (e.g. ``"login"``)."""
    require_table(events, name="events")
    require_columns(events, name="events", columns=("customer_id", "occurred_at", "name"))
    if isinstance(names, str):
        names = [names]
    return Activity("events", events, tuple(names or ()))


def subscription_activity(subscriptions: ir.Table) -> Activity:
    """Activity = a subscription active at any moment of the period (trials excluded)."""
    require_table(subscriptions, name="subscriptions")
    require_columns(
        subscriptions, name="subscriptions", columns=("customer_id", "started_at", "ended_at")
    )
    return Activity("subscriptions", subscriptions)


def paid_start(subscriptions: ir.Table) -> ir.TimestampValue:
    """When a subscription starts to pay: ``started_at``, or the end of its trial when later."""
    start = subscriptions.started_at
    if "trial_ends_at" in subscriptions.columns:
        trial = subscriptions.trial_ends_at
        return ibis.ifelse(trial.notnull() & (trial > start), trial, start)
    return start


def subscription_spans(subscriptions: ir.Table, spec: PeriodSpec) -> ir.Table:
    """Paid spans of each subscription as ordinals: ``first`` and ``last`` period touched.

    ``last`` is ``NULL`` for open subscriptions. A subscription cancelled before its paid start
    (a trial that did not convert) has no span and is dropped. Columns: every input column plus
    ``first``, ``last``, ``end_local``.
    """
    from retain.metrics._periods import local_time

    start = paid_start(subscriptions)
    subs = subscriptions.mutate(_paid=start)
    subs = subs.filter(
        subs._paid.notnull() & (subs.ended_at.isnull() | (subs.ended_at > subs._paid))
    )
    start_local = local_time(subs._paid, spec.tz)
    # the last instant of activity is one second before ended_at
    end_local = local_time(subs.ended_at, spec.tz)
    subs = subs.mutate(
        first=spec.ordinal_of_local(start_local),
        last=spec.ordinal_of_local(end_local - ibis.interval(seconds=1)),
        end_local=end_local,
    )
    return subs.drop("_paid")


def _subscription_periods(subscriptions: ir.Table, spec: PeriodSpec) -> ir.Table:
    spans = subscription_spans(subscriptions, spec)
    spans = spans.filter(spans.first.notnull())
    bounds = spans.aggregate(
        hi=ibis.greatest(spans.first.max(), ibis.coalesce(spans.last.max(), spans.first.max()))
    )
    cal = calendar(spec)
    spans = spans.cross_join(bounds)
    last = ibis.coalesce(spans["last"], spans.hi)
    spans = spans.mutate(_last=last)
    joined = spans.join(cal, [cal.ordinal >= spans["first"], cal.ordinal <= spans._last])
    period_end = joined.period_end
    last_local = ibis.ifelse(
        joined.end_local.notnull() & (joined.end_local < period_end), joined.end_local, period_end
    )
    rows = joined.select(
        customer_id=joined.customer_id.cast("string"), ordinal=joined.ordinal, last_local=last_local
    )
    return rows.group_by(["customer_id", "ordinal"]).agg(last_local=rows.last_local.max())
