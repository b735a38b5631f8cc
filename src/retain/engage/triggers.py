"""Which customers a playbook's trigger fires for, as of a date, computed in the warehouse's engine.

:func:`fired` turns one trigger into an Ibis table with one row per customer and these columns
(:data:`FIRED_COLUMNS`; what a trigger kind does not fill is null):

``customer_id``, ``occurrence``
    The customer and the trigger occurrence: a stable text naming *this* moment (the silence that
    began on a date, step 2 of the series, the contract ending on a date, the event's id). A
    playbook messages a customer at most once per occurrence (the re-entry rule), so running it
    again, or from two overlapping runs, finds the same occurrence and sends nothing new.
``fired_at``
    When the moment began (last activity, acquisition, score date, due date, event time...).
``days``, ``step``, ``product_id``, ``product_name``, ``due_at``, ``ends_at``, ``event``, ``band``
    What templates may show (``trigger.<name>``).

Everything is point in time: rows dated after ``as_of`` are not read, so a run replayed for a
past date decides as it would have then.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.engage.playbooks import (
    ContractEndTrigger,
    DateAttributeTrigger,
    EventTrigger,
    InactiveTrigger,
    LifecycleTrigger,
    ReplenishmentTrigger,
    RiskBandTrigger,
    Trigger,
)
from retain.engage.replenishment import due_reminders
from retain.errors import InvalidParameterError
from retain.facts import DateLike, activity_rows, as_timestamp, json_text
from retain.features import Sources
from retain.i18n import t
from retain.targeting import CHURN_RECENCY

__all__ = ["FIRED_COLUMNS", "fired"]

FIRED_COLUMNS: dict[str, str] = {
    "customer_id": "string",
    "occurrence": "string",
    "fired_at": "timestamp",
    "days": "int64",
    "step": "int64",
    "product_id": "string",
    "product_name": "string",
    "due_at": "timestamp",
    "ends_at": "timestamp",
    "event": "string",
    "band": "string",
}
"""The columns of :func:`fired`'s table, with their types."""


def _shape(table: ir.Table, **values: ir.Value) -> ir.Table:
    """``table`` projected to :data:`FIRED_COLUMNS`, typed, missing ones null."""
    cols = {
        name: (values[name] if name in values else ibis.null()).cast(kind)
        for name, kind in FIRED_COLUMNS.items()
    }
    return table.select(**cols)


def _days_between(later: ir.Value, earlier: ir.TimestampValue) -> ir.IntegerValue:
    """Whole calendar days from ``earlier`` to ``later``."""
    return later.date().delta(earlier.date(), unit="day")  # type: ignore[attr-defined, no-any-return]


def _text(value: ir.Value) -> ir.StringValue:
    return value.cast("string")  # type: ignore[return-value]


def _require(table: ir.Table | None, name: str, kind: str) -> ir.Table:
    if table is None:
        raise InvalidParameterError(
            t("engage_playbooks.trigger_needs_table", kind=kind, table=name),
            hint=t("engage_playbooks.trigger_needs_table_hint", table=name),
        )
    return table


def _inactive(trigger: InactiveTrigger, sources: Sources, run: pd.Timestamp) -> ir.Table:
    parts = activity_rows(orders=sources.orders, events=sources.events, kind="any")
    if not parts:
        _require(None, "orders", trigger.kind)
    acts = parts[0]
    for part in parts[1:]:
        acts = acts.union(part)
    acts = acts.filter(acts.at <= run)
    last = acts.group_by("customer_id").agg(last_at=acts.at.max())
    days = _days_between(ibis.literal(run), last.last_at)
    last = last.mutate(_days=days)
    keep = last._days >= trigger.days
    if trigger.max_days is not None:
        keep &= last._days <= trigger.max_days
    last = last.filter(keep)
    return _shape(
        last,
        customer_id=last.customer_id,
        occurrence=ibis.literal("inactive:") + _text(last.last_at.date()),
        fired_at=last.last_at,
        days=last._days,
    )


def _acquired(sources: Sources, run: pd.Timestamp) -> ir.Table:
    """``(customer_id, acquired_at)``: the recorded date, else the first activity."""
    parts = activity_rows(orders=sources.orders, events=sources.events, kind="any")
    first: ir.Table | None = None
    if parts:
        acts = parts[0]
        for part in parts[1:]:
            acts = acts.union(part)
        first = acts.group_by("customer_id").agg(first_at=acts.at.min())
    if sources.customers is None:
        if first is None:
            _require(None, "customers", "lifecycle")
        assert first is not None
        return first.select(customer_id=first.customer_id, acquired_at=first.first_at)
    cust = sources.customers.select("customer_id", "acquired_at")
    if first is None:
        out = cust
    else:
        joined = cust.outer_join(first, cust.customer_id == first.customer_id)
        out = joined.select(
            customer_id=ibis.coalesce(joined.customer_id, joined.customer_id_right),
            acquired_at=ibis.coalesce(joined.acquired_at, joined.first_at),
        )
    return out.filter(out.acquired_at.notnull() & (out.acquired_at <= run))


def _lifecycle(trigger: LifecycleTrigger, sources: Sources, run: pd.Timestamp) -> ir.Table:
    acquired = _acquired(sources, run)
    age = _days_between(ibis.literal(run), acquired.acquired_at)
    acquired = acquired.mutate(_age=age)
    step: ir.IntegerValue = ibis.null().cast("int64")  # type: ignore[assignment]
    delay: ir.IntegerValue = ibis.null().cast("int64")  # type: ignore[assignment]
    for index, days in enumerate(trigger.delays, start=1):
        reached = acquired._age >= days
        step = reached.ifelse(index, step)  # type: ignore[assignment]
        delay = reached.ifelse(days, delay)  # type: ignore[assignment]
    acquired = acquired.mutate(_step=step, _delay=delay)
    acquired = acquired.filter(
        acquired._step.notnull() & (acquired._age < acquired._delay + trigger.grace_days)
    )
    return _shape(
        acquired,
        customer_id=acquired.customer_id,
        occurrence=ibis.literal("new:step") + _text(acquired._step),
        fired_at=acquired.acquired_at,
        days=acquired._age,
        step=acquired._step,
    )


def _risk_band(trigger: RiskBandTrigger, scores: ir.Table, run: pd.Timestamp) -> ir.Table:
    known = scores.filter(scores.as_of <= run)
    if trigger.definition is not None:
        known = known.filter(known.definition == trigger.definition)
    order = [known[c].desc() for c in CHURN_RECENCY]
    window = ibis.window(group_by=[known.customer_id, known.definition], order_by=order)
    ranked = known.mutate(
        _rank=ibis.row_number().over(window), _prev=known.risk_band.lead().over(window)
    )
    # lead() over a newest-first order is the score before: the row a crossing came from.
    current = ranked.filter(ranked._rank == 0)
    crossed = current.filter(
        (current.risk_band == trigger.band)
        & (current._prev.isnull() | (current._prev != trigger.band))
        & (current.as_of >= run - pd.Timedelta(days=trigger.within_days))
    )
    newest = ibis.window(group_by=crossed.customer_id, order_by=crossed.as_of.desc())
    crossed = crossed.mutate(_pick=ibis.row_number().over(newest))
    crossed = crossed.filter(crossed._pick == 0)
    return _shape(
        crossed,
        customer_id=crossed.customer_id,
        occurrence=ibis.literal("risk:")
        + crossed.definition
        + ":"
        + trigger.band
        + ":"
        + _text(crossed.as_of.date()),
        fired_at=crossed.as_of,
        band=crossed.risk_band,
    )


def _replenishment(trigger: ReplenishmentTrigger, sources: Sources, run: pd.Timestamp) -> ir.Table:
    due = due_reminders(
        sources,
        run,
        lead_days=trigger.lead_days,
        min_customer_intervals=trigger.min_customer_intervals,
        min_product_intervals=trigger.min_product_intervals,
    )
    if trigger.product is not None:
        due = due.filter(due.product_id == trigger.product)
    due = due.filter((due.due_at <= run) & (due.run_out_at >= run))
    first = ibis.window(group_by=due.customer_id, order_by=[due.run_out_at, due.product_id])
    due = due.mutate(_pick=ibis.row_number().over(first))
    due = due.filter(due._pick == 0)
    return _shape(
        due,
        customer_id=due.customer_id,
        occurrence=ibis.literal("replenish:")
        + due.product_id
        + ":"
        + _text(due.last_ordered_at.date()),
        fired_at=due.due_at,
        days=due.interval_days.round().cast("int64"),
        product_id=due.product_id,
        product_name=ibis.coalesce(due.product_name, due.product_id),
        due_at=due.run_out_at,
    )


def _contract_end(trigger: ContractEndTrigger, sources: Sources, run: pd.Timestamp) -> ir.Table:
    subs = _require(sources.subscriptions, "subscriptions", trigger.kind)
    ends = subs.contract_ends_at
    open_ = subs.filter(
        (subs.started_at <= run)
        & subs.ended_at.isnull()
        & (ends > run)
        & (ends <= run + pd.Timedelta(days=trigger.days))
    )
    first = ibis.window(group_by=open_.customer_id, order_by=[open_.contract_ends_at])
    open_ = open_.mutate(_pick=ibis.row_number().over(first))
    open_ = open_.filter(open_._pick == 0)
    return _shape(
        open_,
        customer_id=open_.customer_id,
        occurrence=ibis.literal("contract:")
        + open_.subscription_id
        + ":"
        + _text(open_.contract_ends_at.date()),
        fired_at=open_.contract_ends_at - ibis.interval(days=trigger.days),
        days=_days_between(open_.contract_ends_at, ibis.literal(run)),
        ends_at=open_.contract_ends_at,
    )


def _event(trigger: EventTrigger, sources: Sources, run: pd.Timestamp) -> ir.Table:
    events = _require(sources.events, "events", trigger.kind)
    recent = events.filter(
        (events.name == trigger.event)
        & (events.occurred_at <= run)
        & (events.occurred_at > run - pd.Timedelta(days=trigger.within_days))
    )
    newest = ibis.window(group_by=recent.customer_id, order_by=recent.occurred_at.desc())
    recent = recent.mutate(_pick=ibis.row_number().over(newest))
    recent = recent.filter(recent._pick == 0)
    return _shape(
        recent,
        customer_id=recent.customer_id,
        occurrence=ibis.literal("event:") + recent.event_id,
        fired_at=recent.occurred_at,
        event=recent.name,
    )


def _date_attribute(trigger: DateAttributeTrigger, sources: Sources, run: pd.Timestamp) -> ir.Table:
    customers = _require(sources.customers, "customers", trigger.kind)
    target = (run + dt.timedelta(days=trigger.days_before)).date()
    month_day = f"{target:%m-%d}"
    wanted = [month_day]
    leap = target.year % 4 == 0 and (target.year % 100 != 0 or target.year % 400 == 0)
    if month_day == "02-28" and not leap:
        wanted.append("02-29")  # a 29 February date is kept on the 28th in other years
    value = json_text(customers.attributes.cast("string"), trigger.attribute)
    md = value.re_extract(r"^(?:\d{4}-)?(\d{2}-\d{2})(?:[T ].*)?$", 1)
    hits = customers.mutate(_md=md).filter(lambda c: c._md.isin(wanted))
    hits = hits.filter(hits.acquired_at.isnull() | (hits.acquired_at <= run))
    return _shape(
        hits,
        customer_id=hits.customer_id,
        occurrence=ibis.literal(f"date:{trigger.attribute}:{target.year}"),
        fired_at=ibis.literal(dt.datetime(target.year, target.month, target.day)),
        days=ibis.literal(trigger.days_before),
        due_at=ibis.literal(dt.datetime(target.year, target.month, target.day)),
    )


def fired(
    trigger: Trigger,
    sources: Sources,
    as_of: DateLike,
    *,
    churn_scores: ir.Table | None = None,
) -> ir.Table:
    """Customers ``trigger`` fires for as of ``as_of``: one row each, :data:`FIRED_COLUMNS`.

    ``churn_scores`` (the risk-band trigger's input) defaults to the warehouse's table.
    """
    run = as_timestamp(as_of)
    if isinstance(trigger, InactiveTrigger):
        return _inactive(trigger, sources, run)
    if isinstance(trigger, LifecycleTrigger):
        return _lifecycle(trigger, sources, run)
    if isinstance(trigger, RiskBandTrigger):
        con = sources.warehouse
        if churn_scores is None and con is not None and "churn_scores" in con.list_tables():
            churn_scores = con.table("churn_scores")
        return _risk_band(trigger, _require(churn_scores, "churn_scores", trigger.kind), run)
    if isinstance(trigger, ReplenishmentTrigger):
        return _replenishment(trigger, sources, run)
    if isinstance(trigger, ContractEndTrigger):
        return _contract_end(trigger, sources, run)
    if isinstance(trigger, EventTrigger):
        return _event(trigger, sources, run)
    return _date_attribute(trigger, sources, run)
