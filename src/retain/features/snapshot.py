"""Point-in-time churn features: one row per customer at risk, from data strictly before ``as_of``.

Everything is one Ibis expression, so it runs inside the engine (DuckDB, PySpark, PostgreSQL) and
scales with the number of events, not with Python. Every source row is filtered to ``time <
as_of`` before it is aggregated, so adding or changing data on or after ``as_of`` cannot change a
feature (``tests/features/test_snapshot.py`` proves it). Tables a business has not loaded yield
null features; the column set is always the catalog :data:`retain.features.FEATURES`.

Two things cannot be point-in-time because the canonical tables keep only their current state:
customer attributes (country, consent) and a subscription's ``contract_ends_at``. Both are taken
as they are now; the first rarely changes, the second is known in advance by design.
"""

from __future__ import annotations

from datetime import date, datetime

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.config import ChurnDefinition
from retain.features._catalog import FEATURES
from retain.features._sources import (
    SourceLike,
    Sources,
    as_timestamp,
    completed_orders,
    resolve_sources,
)
from retain.features.labels import _population

__all__ = ["feature_snapshot"]

DateLike = str | date | datetime | pd.Timestamp

_DAY = 86400.0
_NOT_ENGAGEMENT = ("payment_failed", "cancel_page_view")
_TICKET_RE = r'"ticket_id"\s*:\s*"?([^",}\s]+)'
_SCORE_RE = r'"score"\s*:\s*"?(-?[0-9]+(?:\.[0-9]+)?)'


class _Clock:
    """Time windows relative to ``as_of``, as Ibis predicates."""

    def __init__(self, as_of: pd.Timestamp) -> None:
        self.as_of = as_of
        self.epoch = float(as_of.value // 1_000_000_000)

    def lit(self, days_before: float = 0.0) -> ir.Value:
        return ibis.literal((self.as_of - pd.Timedelta(days=days_before)).to_pydatetime())

    def before(self, col: ir.Value) -> ir.Value:
        return col < self.lit()

    def within(self, col: ir.Value, days: float, *, offset: float = 0.0) -> ir.Value:
        """``col`` in ``[as_of - offset - days, as_of - offset)``."""
        return (col >= self.lit(offset + days)) & (col < self.lit(offset))

    def days_since(self, col: ir.Value) -> ir.Value:
        return (ibis.literal(self.epoch) - col.epoch_seconds().cast("float64")) / _DAY

    def days_until(self, col: ir.Value) -> ir.Value:
        return (col.epoch_seconds().cast("float64") - ibis.literal(self.epoch)) / _DAY


def _change_pct(cur: ir.Value, prev: ir.Value) -> ir.Value:
    prev_f = prev.cast("float64")
    return (cur.cast("float64") - prev_f) * 100.0 / prev_f.nullif(0.0)


def _orders(sources: Sources, clock: _Clock) -> ir.Table | None:
    all_orders = sources["orders"]
    done = completed_orders(sources)
    if all_orders is None or done is None:
        return None
    o = done.filter(clock.before(done.ordered_at))
    amount = o.amount.cast("float64")
    discount = o.discount_amount.cast("float64").fill_null(0.0)
    agg = o.group_by("customer_id").aggregate(
        orders_total=o.count(),
        orders_30d=o.count(where=clock.within(o.ordered_at, 30)),
        orders_90d=o.count(where=clock.within(o.ordered_at, 90)),
        orders_prev_90d=o.count(where=clock.within(o.ordered_at, 90, offset=90)),
        _first_order=o.ordered_at.min(),
        _last_order=o.ordered_at.max(),
        revenue_total=amount.sum(),
        revenue_90d=amount.sum(where=clock.within(o.ordered_at, 90)),
        revenue_prev_90d=amount.sum(where=clock.within(o.ordered_at, 90, offset=90)),
        _discount=discount.sum(),
        _discounted_orders=o.count(where=discount > 0),
    )
    returned = all_orders.filter(
        (all_orders.status == "returned") & clock.before(all_orders.ordered_at)
    )
    returns = returned.group_by("customer_id").aggregate(returns_total=returned.count())
    agg = agg.left_join(returns, "customer_id").drop("customer_id_right")
    span = clock.days_since(agg._first_order) - clock.days_since(agg._last_order)
    mean_gap = span / (agg.orders_total - 1).cast("float64").nullif(0.0)
    since_last = clock.days_since(agg._last_order)
    list_value = agg.revenue_total.fill_null(0.0) + agg._discount
    return agg.select(
        "customer_id",
        "orders_total",
        "orders_30d",
        "orders_90d",
        "orders_prev_90d",
        orders_change_pct=_change_pct(agg.orders_90d, agg.orders_prev_90d),
        days_since_first_order=clock.days_since(agg._first_order),
        days_since_last_order=since_last,
        mean_days_between_orders=mean_gap,
        order_overdue_ratio=since_last / mean_gap.nullif(0.0),
        revenue_total="revenue_total",
        revenue_90d=agg.revenue_90d.fill_null(0.0),
        revenue_prev_90d=agg.revenue_prev_90d.fill_null(0.0),
        revenue_change_pct=_change_pct(
            agg.revenue_90d.fill_null(0.0), agg.revenue_prev_90d.fill_null(0.0)
        ),
        average_order_value=agg.revenue_total / agg.orders_total.cast("float64"),
        discount_share=agg._discount / list_value.nullif(0.0),
        discounted_order_share=agg._discounted_orders.cast("float64")
        / agg.orders_total.cast("float64"),
        returns_total=agg.returns_total.fill_null(0),
        _first_order_days=clock.days_since(agg._first_order),
    )


def _events(sources: Sources, clock: _Clock) -> ir.Table | None:
    events = sources["events"]
    if events is None:
        return None
    e = events.filter(clock.before(events.occurred_at))
    engaged = ~e.name.isin(_NOT_ENGAGEMENT)
    ch = e.channel
    w90 = clock.within(e.occurred_at, 90)
    p90 = clock.within(e.occurred_at, 90, offset=90)
    agg = e.group_by("customer_id").aggregate(
        events_30d=e.count(where=engaged & clock.within(e.occurred_at, 30)),
        events_90d=e.count(where=engaged & w90),
        events_prev_90d=e.count(where=engaged & p90),
        _last_event=e.occurred_at.max(where=engaged),
        _first_event=e.occurred_at.min(),
        web_events_90d=e.count(where=engaged & w90 & (ch == "web")),
        _web_prev=e.count(where=engaged & p90 & (ch == "web")),
        app_events_90d=e.count(where=engaged & w90 & (ch == "app")),
        _app_prev=e.count(where=engaged & p90 & (ch == "app")),
        _events_30_90=e.count(where=engaged & clock.within(e.occurred_at, 60, offset=30)),
        payment_failures_60d=e.count(
            where=(e.name == "payment_failed") & clock.within(e.occurred_at, 60)
        ),
        payment_failures_90d=e.count(where=(e.name == "payment_failed") & w90),
        payment_failures_total=e.count(where=e.name == "payment_failed"),
        _last_failure=e.occurred_at.max(where=e.name == "payment_failed"),
        cancel_page_views_30d=e.count(
            where=(e.name == "cancel_page_view") & clock.within(e.occurred_at, 30)
        ),
        cancel_page_views_90d=e.count(where=(e.name == "cancel_page_view") & w90),
        _last_cancel_view=e.occurred_at.max(where=e.name == "cancel_page_view"),
    )
    return agg.select(
        "customer_id",
        "events_30d",
        "events_90d",
        "events_prev_90d",
        events_change_pct=_change_pct(agg.events_90d, agg.events_prev_90d),
        # The last 30 days against the mean 30 days of the 60 before: a decline that began
        # weeks ago, which the 90-vs-90 change still averages away.
        events_30d_change_pct=_change_pct(agg.events_30d * 2, agg._events_30_90),
        days_since_last_event=clock.days_since(agg._last_event),
        web_events_90d="web_events_90d",
        web_events_change_pct=_change_pct(agg.web_events_90d, agg._web_prev),
        app_events_90d="app_events_90d",
        app_events_change_pct=_change_pct(agg.app_events_90d, agg._app_prev),
        payment_failures_60d="payment_failures_60d",
        payment_failures_90d="payment_failures_90d",
        payment_failures_total="payment_failures_total",
        days_since_payment_failure=clock.days_since(agg._last_failure),
        cancel_page_views_30d="cancel_page_views_30d",
        cancel_page_views_90d="cancel_page_views_90d",
        days_since_cancel_page_view=clock.days_since(agg._last_cancel_view),
        _first_event_days=clock.days_since(agg._first_event),
    )


def _interactions(sources: Sources, clock: _Clock) -> ir.Table | None:
    inter = sources["interactions"]
    if inter is None:
        return None
    i = inter.filter(clock.before(inter.occurred_at))
    score = i.properties.re_extract(_SCORE_RE, 1).nullif("").cast("float64")
    i = i.mutate(
        _score=(i.kind == "survey_answer").ifelse(score, ibis.null().cast("float64")),
        _ticket=i.properties.re_extract(_TICKET_RE, 1).nullif(""),
    )
    w90 = clock.within(i.occurred_at, 90)
    agg = i.group_by("customer_id").aggregate(
        _last_message=i.occurred_at.max(where=i.kind == "message_sent"),
        messages_90d=i.count(where=(i.kind == "message_sent") & w90),
        messages_opened_90d=i.count(where=(i.kind == "message_opened") & w90),
        complaints_total=i.count(where=i.kind == "complaint"),
        complaints_90d=i.count(where=(i.kind == "complaint") & w90),
        survey_responses=i.count(where=i._score.notnull()),
        survey_last_score=i._score.argmax(
            i.occurred_at.cast("string") + "#" + i.interaction_id, where=i._score.notnull()
        ),
        _score_90d=i._score.mean(where=w90),
        _score_before=i._score.mean(where=~w90),
    )
    agg = agg.select(
        "customer_id",
        "_last_message",
        "messages_90d",
        "messages_opened_90d",
        message_open_rate=agg.messages_opened_90d.cast("float64")
        / agg.messages_90d.cast("float64").nullif(0.0),
        complaints_total="complaints_total",
        complaints_90d="complaints_90d",
        survey_responses="survey_responses",
        survey_last_score="survey_last_score",
        survey_score_change=agg._score_90d - agg._score_before,
    )
    # Tickets: a complaint or ticket_opened is resolved by a ticket_resolved with the same
    # properties.ticket_id before as_of; an opening without a ticket_id cannot be resolved.
    opened = i.filter(i.kind.isin(("complaint", "ticket_opened")))
    opened = opened.mutate(_ticket=opened._ticket.fill_null(opened.interaction_id))
    opened = opened.group_by(["customer_id", "_ticket"]).aggregate(
        _opened_at=opened.occurred_at.min(),
        _is_complaint=opened.count(where=opened.kind == "complaint"),
    )
    resolved = i.filter((i.kind == "ticket_resolved") & i._ticket.notnull())
    resolved = resolved.group_by(["customer_id", "_ticket"]).aggregate(
        _resolved_at=resolved.occurred_at.min()
    )
    both = opened.left_join(resolved, ["customer_id", "_ticket"]).drop(
        "customer_id_right", "_ticket_right"
    )
    is_open = both._resolved_at.isnull()
    tickets = both.group_by("customer_id").aggregate(
        tickets_open=both.count(where=is_open),
        complaints_unresolved=both.count(where=is_open & (both._is_complaint > 0)),
        oldest_open_ticket_days=clock.days_since(both._opened_at).max(where=is_open),
        tickets_resolved_total=both.count(where=~is_open),
        mean_days_to_resolve=(
            (both._resolved_at.epoch_seconds() - both._opened_at.epoch_seconds()).cast("float64")
            / _DAY
        ).mean(where=~is_open),
    )
    return agg.left_join(tickets, "customer_id").drop("customer_id_right")


def _subscriptions(sources: Sources, clock: _Clock) -> ir.Table | None:
    subs = sources["subscriptions"]
    if subs is None:
        return None
    s = subs.filter(clock.before(subs.started_at))
    active = s.ended_at.isnull() | (s.ended_at >= clock.lit())
    newest = s.started_at.cast("string") + "#" + s.subscription_id
    contract_left = clock.days_until(s.contract_ends_at)
    agg = s.group_by("customer_id").aggregate(
        active_subscriptions=s.count(where=active),
        subscription_amount=s.amount.cast("float64").sum(where=active),
        _oldest_active=s.started_at.min(where=active),
        _first_sub=s.started_at.min(),
        days_to_contract_end=contract_left.min(where=active & (contract_left >= 0)),
        in_trial=s.count(where=active & (s.trial_ends_at > clock.lit())),
        subscriptions_ended=s.count(where=~active),
        plan=s.plan.argmax(newest, where=active),
        billing_period=s.billing_period.argmax(newest, where=active),
    )
    return agg.select(
        "customer_id",
        "active_subscriptions",
        "subscription_amount",
        subscription_tenure_days=clock.days_since(agg._oldest_active),
        days_to_contract_end="days_to_contract_end",
        in_trial=(agg.in_trial > 0).cast("int64"),
        subscriptions_ended="subscriptions_ended",
        plan="plan",
        billing_period="billing_period",
        _first_sub_days=clock.days_since(agg._first_sub),
    )


def _customers(sources: Sources, clock: _Clock) -> ir.Table | None:
    c = sources["customers"]
    if c is None:
        return None
    acquired = c.acquired_at
    known = acquired.notnull() & (acquired < clock.lit())
    return c.select(
        "customer_id",
        _acquired_days=known.ifelse(clock.days_since(acquired), ibis.null().cast("float64")),
        email_opt_in=c.email_opt_in.cast("int64"),
        sms_opt_in=c.sms_opt_in.cast("int64"),
        country=c.country,
        language=c.language,
        acquisition_channel=c.acquisition_channel,
    ).distinct(on="customer_id", keep="first")


_ZERO_WHEN_ABSENT = {
    "orders": (
        "orders_total",
        "orders_30d",
        "orders_90d",
        "orders_prev_90d",
        "revenue_total",
        "revenue_90d",
        "revenue_prev_90d",
        "returns_total",
    ),
    "events": (
        "events_30d",
        "events_90d",
        "events_prev_90d",
        "web_events_90d",
        "app_events_90d",
        "payment_failures_60d",
        "payment_failures_90d",
        "payment_failures_total",
        "cancel_page_views_30d",
        "cancel_page_views_90d",
    ),
    "interactions": (
        "messages_90d",
        "messages_opened_90d",
        "complaints_total",
        "complaints_90d",
        "survey_responses",
        "tickets_open",
        "complaints_unresolved",
        "tickets_resolved_total",
    ),
    "subscriptions": ("active_subscriptions", "subscriptions_ended", "in_trial"),
}


def feature_snapshot(
    con_or_tables: SourceLike, *, as_of: DateLike, definition: ChurnDefinition
) -> ir.Table:
    """Churn features as of a reference date, for every customer at risk at that date.

    Parameters
    ----------
    con_or_tables
        A warehouse connection (every canonical table it holds is used), or a mapping of
        canonical table names to Ibis tables or pandas frames.
    as_of
        The reference date; only rows timed strictly before it are read.
    definition
        The churn definition: it decides the population (see :mod:`retain.features.labels`).

    Returns
    -------
    ibis.Table
        ``customer_id`` plus every feature in :data:`retain.features.FEATURES`, one row per
        customer, ordered by ``customer_id``. Counts are 0 when the table exists but the customer
        has no rows; features of absent tables are null. Nothing is executed.

    Examples
    --------
    >>> import retain.warehouse as wh
    >>> from retain.config import ChurnDefinition
    >>> con = wh.connect("duckdb://")  # doctest: +SKIP
    >>> snap = feature_snapshot(
    ...     con, as_of="2024-06-01", definition=ChurnDefinition()
    ... )  # doctest: +SKIP
    >>> snap.to_pandas()  # doctest: +SKIP
    """
    sources = resolve_sources(con_or_tables)
    clock = _Clock(as_of_ts := as_timestamp(as_of))
    base = _population(sources, as_of_ts, definition)
    parts = {
        "orders": _orders(sources, clock),
        "events": _events(sources, clock),
        "interactions": _interactions(sources, clock),
        "subscriptions": _subscriptions(sources, clock),
        "customers": _customers(sources, clock),
    }
    table = base
    for part in parts.values():
        if part is not None:
            table = table.left_join(part, "customer_id").drop("customer_id_right")
    cols = set(table.columns)
    firsts = [
        table[c].fill_null(0.0)
        for c in ("_first_order_days", "_first_event_days", "_first_sub_days", "_acquired_days")
        if c in cols
    ]
    tenure = firsts[0] if len(firsts) == 1 else ibis.greatest(*firsts)
    exprs: dict[str, ir.Value] = {"tenure_days": tenure}
    for source, names in _ZERO_WHEN_ABSENT.items():
        if parts[source] is not None:
            for name in names:
                exprs[name] = table[name].fill_null(0)
    if parts["interactions"] is not None:
        exprs["days_since_contact"] = table._last_message.isnull().ifelse(
            tenure, clock.days_since(table._last_message)
        )
    if exprs:
        table = table.mutate(**exprs)
    cols = set(table.columns)
    out: dict[str, ir.Value] = {"customer_id": table.customer_id}
    for feature in FEATURES:
        if feature.name in cols:
            value = table[feature.name]
            out[feature.name] = (
                value.cast("string") if feature.categorical else value.cast("float64")
            )
        else:
            dtype = "string" if feature.categorical else "float64"
            out[feature.name] = ibis.null().cast(dtype)
    return table.select(**out).order_by("customer_id")
