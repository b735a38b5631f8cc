"""What makes a customer "active" in a period, and the order facts every metric shares.

The default activity is a completed order. :class:`Activity` generalises it to any event, named
events, or an active subscription, so that every period metric, cohort table and lifecycle chart
can be computed for any definition (seed 003: "churn indicators differ by company").

The order rules themselves (what a completed order is, what net revenue is) live in
:mod:`retain.facts.orders`, shared with churn features and lifetime value; ``docs/concepts.md``
states them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import ibis
import ibis.expr.types as ir

from retain.facts import activity_rows, require_columns, require_table
from retain.metrics._periods import PeriodSpec, calendar, local_time

__all__ = [
    "Activity",
    "event_activity",
    "order_activity",
    "subscription_activity",
]


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
            (rows,) = activity_rows(orders=self.table, events=None, kind="orders")
        else:
            (rows,) = activity_rows(
                orders=None, events=self.table, kind="events", event_names=self.names
            )
        local = local_time(rows.at, spec.tz)
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
