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
        a subscription, the end of the period, when the snapshot of
        :func:`subscription_snapshots` finds it live).
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

    def ends(self, spec: PeriodSpec) -> ir.Table | None:
        """``customer_id, ordinal``: periods the data reaches past a customer's activity.

        For subscriptions, the period in which each subscription ends: its churn lands there,
        so period metrics run to it even when nobody is live at its end. ``None`` for orders
        and events, whose data ends with the last activity.
        """
        if self.kind == "subscriptions":
            return _subscription_ends(self.table, spec)
        return None


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
    """Activity = a paid subscription live at the end of the period (trials excluded).

    The snapshot MRR uses (:func:`subscription_snapshots`), so churn, customers and new
    customers agree between ``period_metrics`` and ``mrr_movements``.
    """
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


def subscription_snapshots(subscriptions: ir.Table, spec: PeriodSpec) -> tuple[ir.Table, ir.Table]:
    """Each paid subscription once per period at whose end it is live, and the periods observed.

    The one definition of "a subscriber in period p", shared by MRR, logo churn and every period
    metric with subscription activity: a subscription counts at the *end* of ``p`` when it
    started paying before that moment and has not ended by then (ChartMogul's snapshot). So a
    subscription ended during ``p`` is churned in ``p``, the period of ``ended_at``, whatever
    table shows it. Returns ``(live, bounds)``: ``live`` holds every input column plus
    ``first``, ``stop`` (ordinal of ``ended_at``, NULL when open), ``ordinal`` and
    ``period_end``; ``bounds`` is one row ``lo, hi``: the first paid period and the last period
    the data reaches (the latest start or end).
    """
    spans = subscription_spans(subscriptions, spec)
    spans = spans.filter(spans["first"].notnull())
    spans = spans.mutate(stop=spec.ordinal_of_local(spans.end_local))
    bounds = spans.aggregate(
        lo=spans["first"].min(),
        hi=ibis.greatest(
            spans["first"].max(), ibis.coalesce(spans.stop.max(), spans["first"].max())
        ),
    )
    cal = calendar(spec)
    live = spans.cross_join(bounds.select(_top=bounds.hi))
    live = live.mutate(_stop=ibis.coalesce(live.stop, live._top + 1))
    live = live.join(cal, [cal.ordinal >= live["first"], cal.ordinal < live._stop])
    return live.drop("_top", "_stop", "period_start"), bounds


def _subscription_periods(subscriptions: ir.Table, spec: PeriodSpec) -> ir.Table:
    live, _ = subscription_snapshots(subscriptions, spec)
    rows = live.select(
        customer_id=live.customer_id.cast("string"),
        ordinal=live.ordinal,
        last_local=live.period_end,
    )
    return rows.group_by(["customer_id", "ordinal"]).agg(last_local=rows.last_local.max())


def _subscription_ends(subscriptions: ir.Table, spec: PeriodSpec) -> ir.Table:
    spans = subscription_spans(subscriptions, spec)
    spans = spans.filter(spans["first"].notnull())
    ends = spans.select(
        customer_id=spans.customer_id.cast("string"),
        ordinal=spec.ordinal_of_local(spans.end_local),
    )
    return ends.filter(ends.ordinal.notnull()).distinct()
