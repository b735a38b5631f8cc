"""Point-in-time churn features: one row per customer at risk, from data strictly before ``as_of``.

Everything is one Ibis expression, so it runs inside the engine (DuckDB, PySpark, PostgreSQL) and
scales with the number of events, not with Python. Every source row is filtered to ``time <
as_of`` before it is aggregated, so adding or changing data on or after ``as_of`` cannot change a
feature (``tests/features/test_snapshot.py`` proves it). Tables a business has not loaded yield
null features; the column set is always the catalog :data:`retain.features.FEATURES`.

The expression has the shape a hand-written query would have (``benchmarks/churn.py`` times it
against one): a single pass over each source table that computes all of that table's filtered
aggregates in one group-by, then one ``SELECT`` that left-joins those per-customer aggregates to
the population and derives every feature from them. No window functions, no repeated scans.

Two inputs keep only their current state in the canonical tables: customer attributes (country,
consent and the keys of ``attributes``, see :mod:`retain.features.attributes`), taken as they are
now because they rarely change, and a subscription's ``contract_ends_at``, which a renewal moves
to the end of the new term. The contract end is made point-in-time by rolling it back by whole
billing periods to the first end after ``as_of`` (see ``days_to_contract_end`` and
``days_to_renewal``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from retain.config import ChurnDefinition
from retain.facts import DateLike, as_timestamp, in_reporting_currency, is_completed
from retain.features._catalog import FEATURES
from retain.features._clock import DAY, Clock
from retain.features._compiled import snapshot_query
from retain.features.attributes import AttributeFeature, attribute_value
from retain.features.labels import _population
from retain.features.sources import SourceLike, Sources

__all__ = ["feature_snapshot"]


_NOT_ENGAGEMENT = ("payment_failed", "cancel_page_view")
# JSON's own whitespace, not \s: PostgreSQL's \s also matches Unicode spaces (an ideographic
# space inside a ticket id ended it there, and only there).
_TICKET_RE = r'"ticket_id"[ \t\r\n]*:[ \t\r\n]*"?([^",} \t\r\n]+)'
_SCORE_RE = r'"score"[ \t\r\n]*:[ \t\r\n]*"?(-?[0-9]+(?:\.[0-9]+)?)'


@dataclass
class _Part:
    """The per-customer aggregates of one source and the features derived from them.

    ``table`` has one row per customer, keyed by ``key``; ``features`` are expressions over its
    columns, resolved against the final join. ``zero`` lists the counts that are 0 (not null)
    for a customer without rows in a table that exists; ``first_seen`` is the days since the
    customer first appeared in the source (for tenure).
    """

    table: ir.Table
    key: str
    features: dict[str, ir.Value]
    zero: tuple[str, ...] = ()
    first_seen: ir.Value | None = None
    internal: dict[str, ir.Value] = field(default_factory=dict)


def _change_pct(cur: ir.Value, prev: ir.Value) -> ir.Value:
    prev_f = prev.cast("float64")
    return (cur.cast("float64") - prev_f) * 100.0 / prev_f.nullif(0.0)


def _ratio(num: ir.Value, den: ir.Value) -> ir.Value:
    return num.cast("float64") / den.cast("float64").nullif(0.0)


def _newest_first(at: ir.Value, tie: ir.Value) -> ir.StringValue:
    """A text key whose maximum is the row with the latest ``at``, then the greatest ``tie``.

    The time is written as fixed-width digits (``YYYYMMDDhhmmss`` and six digits of fraction),
    which every collation orders like the instants: a linguistic one (PostgreSQL's ICU or
    ``en_US``) sorts ``"10:00:00.5#..."`` before ``"10:00:00#..."`` in the engines' own text
    form, so the earlier of two answers in one second came out as the latest. Only rows at
    the same microsecond are ordered by ``tie`` in the engine's collation.
    """
    text = at.cast("string")
    whole = text.substr(0, 19).re_replace("[^0-9]", "")
    # No fraction: '' on DuckDB, NULL on PostgreSQL.
    fraction = text.re_extract(r"\.([0-9]{1,6})", 1).fill_null("").rpad(6, "0")
    return whole + fraction + "#" + tie.cast("string")


def _orders(sources: Sources, clock: Clock) -> _Part | None:
    """One pass over orders before ``as_of``: completed orders and returns in one group-by."""
    orders = sources.for_amounts("orders")
    if orders is None:
        return None
    o = in_reporting_currency(
        orders.filter(clock.before(orders.ordered_at)),
        name="orders",
        date="ordered_at",
        amounts=("amount", "discount_amount"),
    )
    done = is_completed(o)
    at = o.ordered_at
    amount = o.amount.cast("float64")
    discount = o.discount_amount.cast("float64").fill_null(0.0)
    w90 = clock.within(at, 90)
    p90 = clock.within(at, 90, offset=90)
    agg = o.group_by(_k_orders=o.customer_id).aggregate(
        orders_total=o.count(where=done),
        orders_30d=o.count(where=done & clock.within(at, 30)),
        orders_90d=o.count(where=done & w90),
        orders_prev_90d=o.count(where=done & p90),
        _first_order=at.min(where=done),
        _last_order=at.max(where=done),
        revenue_total=amount.sum(where=done),
        revenue_90d=amount.sum(where=done & w90),
        revenue_prev_90d=amount.sum(where=done & p90),
        _discount=discount.sum(where=done),
        _discounted_orders=o.count(where=done & (discount > 0)),
        returns_total=o.count(where=o.status == "returned"),
    )
    first_days = clock.days_since(agg._first_order)
    since_last = clock.days_since(agg._last_order)
    mean_gap = (first_days - since_last) / (agg.orders_total - 1).cast("float64").nullif(0.0)
    revenue_90d = agg.revenue_90d.fill_null(0.0)
    revenue_prev = agg.revenue_prev_90d.fill_null(0.0)
    list_value = agg.revenue_total.fill_null(0.0) + agg._discount.fill_null(0.0)
    return _Part(
        agg,
        "_k_orders",
        {
            "orders_total": agg.orders_total,
            "orders_30d": agg.orders_30d,
            "orders_90d": agg.orders_90d,
            "orders_prev_90d": agg.orders_prev_90d,
            "orders_change_pct": _change_pct(agg.orders_90d, agg.orders_prev_90d),
            "days_since_first_order": first_days,
            "days_since_last_order": since_last,
            "mean_days_between_orders": mean_gap,
            "order_overdue_ratio": since_last / mean_gap.nullif(0.0),
            "revenue_total": agg.revenue_total,
            "revenue_90d": revenue_90d,
            "revenue_prev_90d": revenue_prev,
            "revenue_change_pct": _change_pct(revenue_90d, revenue_prev),
            "average_order_value": _ratio(agg.revenue_total, agg.orders_total),
            "discount_share": agg._discount / list_value.nullif(0.0),
            "discounted_order_share": _ratio(agg._discounted_orders, agg.orders_total),
            "returns_total": agg.returns_total,
        },
        zero=(
            "orders_total",
            "orders_30d",
            "orders_90d",
            "orders_prev_90d",
            "revenue_total",
            "revenue_90d",
            "revenue_prev_90d",
            "returns_total",
        ),
        first_seen=first_days,
    )


def _basket(sources: Sources, clock: Clock) -> _Part | None:
    """Units per completed order before ``as_of``, from ``order_lines`` joined to their orders.

    A line has no time of its own: it is timed by its order, so a line of an order placed on
    or after ``as_of`` is never read. Units are summed per order first (returned units, as
    negative quantities, net out); orders without lines are left out of the averages.
    """
    lines, orders = sources.order_lines, sources.orders
    if lines is None or orders is None:
        return None
    per_order = lines.group_by(_b_order=lines.order_id).aggregate(
        _b_units=lines.quantity.cast("float64").sum()
    )
    o = orders.filter(clock.before(orders.ordered_at) & is_completed(orders))
    j = o.inner_join(per_order, o.order_id == per_order._b_order)
    units = j._b_units
    agg = j.group_by(_k_basket=j.customer_id).aggregate(
        _b_total=units.sum(),
        _b_orders=j.count(),
        units_90d=units.sum(where=clock.within(j.ordered_at, 90)),
        largest_order_units=units.max(),
    )
    return _Part(
        agg,
        "_k_basket",
        {
            "units_per_order": _ratio(agg._b_total, agg._b_orders),
            "units_90d": agg.units_90d.fill_null(0.0),
            "largest_order_units": agg.largest_order_units,
        },
        zero=("units_90d",),
    )


def _events(sources: Sources, clock: Clock) -> _Part | None:
    events = sources.events
    if events is None:
        return None
    e = events.filter(clock.before(events.occurred_at))
    at = e.occurred_at
    engaged = ~e.name.isin(_NOT_ENGAGEMENT)
    failed = e.name == "payment_failed"
    cancel = e.name == "cancel_page_view"
    web, app = e.channel == "web", e.channel == "app"
    w30, w90 = clock.within(at, 30), clock.within(at, 90)
    p90 = clock.within(at, 90, offset=90)
    agg = e.group_by(_k_events=e.customer_id).aggregate(
        events_30d=e.count(where=engaged & w30),
        events_90d=e.count(where=engaged & w90),
        events_prev_90d=e.count(where=engaged & p90),
        _last_event=at.max(where=engaged),
        _first_event=at.min(),
        web_events_90d=e.count(where=engaged & w90 & web),
        _web_prev=e.count(where=engaged & p90 & web),
        app_events_90d=e.count(where=engaged & w90 & app),
        _app_prev=e.count(where=engaged & p90 & app),
        _events_30_90=e.count(where=engaged & clock.within(at, 60, offset=30)),
        payment_failures_60d=e.count(where=failed & clock.within(at, 60)),
        payment_failures_90d=e.count(where=failed & w90),
        payment_failures_total=e.count(where=failed),
        _last_failure=at.max(where=failed),
        cancel_page_views_30d=e.count(where=cancel & w30),
        cancel_page_views_90d=e.count(where=cancel & w90),
        _last_cancel_view=at.max(where=cancel),
    )
    zero = (
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
    )
    features = {name: agg[name] for name in zero}
    features.update(
        events_change_pct=_change_pct(agg.events_90d, agg.events_prev_90d),
        # The last 30 days against the mean 30 days of the 60 before: a decline that began
        # weeks ago, which the 90-vs-90 change still averages away.
        events_30d_change_pct=_change_pct(agg.events_30d * 2, agg._events_30_90),
        days_since_last_event=clock.days_since(agg._last_event),
        web_events_change_pct=_change_pct(agg.web_events_90d, agg._web_prev),
        app_events_change_pct=_change_pct(agg.app_events_90d, agg._app_prev),
        days_since_payment_failure=clock.days_since(agg._last_failure),
        days_since_cancel_page_view=clock.days_since(agg._last_cancel_view),
    )
    return _Part(
        agg, "_k_events", features, zero=zero, first_seen=clock.days_since(agg._first_event)
    )


def _interactions(sources: Sources, clock: Clock) -> _Part | None:
    inter = sources.interactions
    if inter is None:
        return None
    i = inter.filter(clock.before(inter.occurred_at))
    survey = i.kind == "survey_answer"
    # Parsed only on survey rows (a CASE), not on every message.
    score = survey.ifelse(
        i.properties.re_extract(_SCORE_RE, 1).nullif("").cast("float64"),
        ibis.null("float64"),
    )
    answered = score.notnull()
    # The latest answer; of two at one instant, the greater id.
    latest = answered.ifelse(_newest_first(i.occurred_at, i.interaction_id), ibis.null("string"))
    sent, opened = i.kind == "message_sent", i.kind == "message_opened"
    complaint = i.kind == "complaint"
    w90 = clock.within(i.occurred_at, 90)
    agg = i.group_by(_k_interactions=i.customer_id).aggregate(
        _last_message=i.occurred_at.max(where=sent),
        messages_90d=i.count(where=sent & w90),
        messages_opened_90d=i.count(where=opened & w90),
        complaints_total=i.count(where=complaint),
        complaints_90d=i.count(where=complaint & w90),
        survey_responses=i.count(where=answered),
        survey_last_score=score.argmax(latest, where=answered),
        _score_90d=score.mean(where=w90),
        _score_before=score.mean(where=~w90),
    )
    zero = ("messages_90d", "messages_opened_90d", "complaints_total", "complaints_90d")
    features = {name: agg[name] for name in zero}
    features.update(
        message_open_rate=_ratio(agg.messages_opened_90d, agg.messages_90d),
        survey_responses=agg.survey_responses,
        survey_last_score=agg.survey_last_score,
        survey_score_change=agg._score_90d - agg._score_before,
    )
    return _Part(
        agg,
        "_k_interactions",
        features,
        zero=(*zero, "survey_responses"),
        internal={"_last_message": agg._last_message},
    )


def _tickets(sources: Sources, clock: Clock) -> _Part | None:
    """Open and resolved tickets per customer.

    A complaint or ticket_opened is resolved by a ticket_resolved with the same
    ``properties.ticket_id`` before ``as_of``; an opening without a ticket_id cannot be resolved.
    """
    inter = sources.interactions
    if inter is None:
        return None
    i = inter.filter(clock.before(inter.occurred_at))
    ticket = i.properties.re_extract(_TICKET_RE, 1).nullif("")
    opened = i.filter(i.kind.isin(("complaint", "ticket_opened")))
    opened = opened.group_by(
        customer_id=opened.customer_id, _ticket=ticket.fill_null(opened.interaction_id)
    ).aggregate(
        _opened_at=opened.occurred_at.min(),
        _is_complaint=opened.count(where=opened.kind == "complaint"),
    )
    resolved = i.filter(i.kind == "ticket_resolved")
    resolved = resolved.group_by(_rcustomer=resolved.customer_id, _rticket=ticket).aggregate(
        _resolved_at=resolved.occurred_at.min()
    )
    both = opened.left_join(
        resolved,
        [opened.customer_id == resolved._rcustomer, opened._ticket == resolved._rticket],
    )
    is_open = both._resolved_at.isnull()
    took = (both._resolved_at.epoch_seconds() - both._opened_at.epoch_seconds()).cast("float64")
    tickets = both.group_by(_k_tickets=both.customer_id).aggregate(
        tickets_open=both.count(where=is_open),
        complaints_unresolved=both.count(where=is_open & (both._is_complaint > 0)),
        _oldest_open=both._opened_at.min(where=is_open),
        tickets_resolved_total=both.count(where=~is_open),
        mean_days_to_resolve=(took / float(DAY)).mean(where=~is_open),
    )
    zero = ("tickets_open", "complaints_unresolved", "tickets_resolved_total")
    features = {name: tickets[name] for name in zero}
    features.update(
        oldest_open_ticket_days=clock.days_since(tickets._oldest_open),
        mean_days_to_resolve=tickets.mean_days_to_resolve,
    )
    return _Part(tickets, "_k_tickets", features, zero=zero)


def _subscriptions(sources: Sources, clock: Clock) -> _Part | None:
    subs = sources.for_amounts("subscriptions")
    if subs is None:
        return None
    s = in_reporting_currency(
        subs.filter(clock.before(subs.started_at)), name="subscriptions", date="started_at"
    )
    active = s.ended_at.isnull() | (s.ended_at >= clock.lit())
    # The newest active subscription; of two started at one instant, the greater id.
    newest = active.ifelse(_newest_first(s.started_at, s.subscription_id), ibis.null("string"))
    ends = s.contract_ends_at
    # The committed term in force at as_of: a contract end more than one billing period ahead
    # belongs to a later renewal, so it is rolled back by whole periods to the first end at or
    # after as_of (a term ending exactly at as_of is 0 days away, however far it was renewed).
    contract_left = clock.days_to_next_anniversary(ends, s.billing_period, inclusive=True)
    renewal = clock.days_to_next_anniversary(s.started_at, s.billing_period)
    agg = s.group_by(_k_subscriptions=s.customer_id).aggregate(
        active_subscriptions=s.count(where=active),
        subscription_amount=s.amount.cast("float64").sum(where=active),
        _oldest_active=s.started_at.min(where=active),
        _first_sub=s.started_at.min(),
        days_to_contract_end=contract_left.min(where=active & (ends >= clock.lit())),
        days_to_renewal=renewal.argmax(newest, where=active),
        in_trial=s.count(where=active & (s.trial_ends_at > clock.lit())),
        subscriptions_ended=s.count(where=~active),
        plan=s.plan.argmax(newest, where=active),
        billing_period=s.billing_period.argmax(newest, where=active),
    )
    return _Part(
        agg,
        "_k_subscriptions",
        {
            "active_subscriptions": agg.active_subscriptions,
            "subscription_amount": agg.subscription_amount,
            "subscription_tenure_days": clock.days_since(agg._oldest_active),
            "days_to_contract_end": agg.days_to_contract_end,
            "days_to_renewal": agg.days_to_renewal,
            # int32: PostgreSQL casts a boolean to integer but not to bigint.
            "in_trial": (agg.in_trial > 0).cast("int32"),
            "subscriptions_ended": agg.subscriptions_ended,
            "plan": agg.plan,
            "billing_period": agg.billing_period,
        },
        zero=("active_subscriptions", "subscriptions_ended", "in_trial"),
        first_seen=clock.days_since(agg._first_sub),
    )


def _customers(
    sources: Sources, clock: Clock, attributes: Sequence[AttributeFeature] = ()
) -> _Part | None:
    """Customer columns and the chosen keys of ``attributes``.

    ``customer_id`` is the table's key (ingest enforces it).
    """
    c = sources.customers
    if c is None:
        return None
    acquired = c.acquired_at
    known = acquired.notnull() & (acquired < clock.lit())
    features: dict[str, ir.Value] = {
        "email_opt_in": c.email_opt_in.cast("int32"),
        "sms_opt_in": c.sms_opt_in.cast("int32"),
        "country": c.country,
        "language": c.language,
        "acquisition_channel": c.acquisition_channel,
    }
    for attribute in attributes:
        features[attribute.name] = attribute_value(c.attributes, attribute)
    return _Part(
        c,
        "customer_id",
        features,
        first_seen=known.ifelse(clock.days_since(acquired), ibis.null("float64")),
    )


_PARTS = (_orders, _basket, _events, _interactions, _tickets, _subscriptions)


def feature_snapshot(
    con_or_tables: SourceLike,
    *,
    as_of: DateLike,
    definition: ChurnDefinition,
    attributes: Sequence[AttributeFeature] = (),
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
    attributes
        Keys of ``customers.attributes`` to add as features, after the catalog's (see
        :func:`retain.features.attributes.discover_attributes`).

    Returns
    -------
    ibis.Table
        ``customer_id`` plus every feature in :data:`retain.features.FEATURES` and one column
        per attribute, one row per customer, ordered by ``customer_id``. Counts are 0 when the
        table exists but the customer has no rows; features of absent tables are null. Nothing
        is executed. Over a warehouse connection (DuckDB, PostgreSQL) the expression is a SQL
        query compiled once per process and table schemas, reused for every ``as_of``.

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
    sources = Sources.of(con_or_tables)
    chosen = tuple(attributes)
    # Compiled once per process for a warehouse's tables (the SQL is reused for every date,
    # see retain.features._compiled); sorted here, on top, in both cases.
    table = snapshot_query(
        sources,
        as_timestamp(as_of),
        definition=definition,
        attributes=chosen,
        build=lambda clock: _expression(sources, clock, definition, chosen),
    )
    return table.order_by("customer_id")


def _expression(
    sources: Sources,
    clock: Clock,
    definition: ChurnDefinition,
    attributes: Sequence[AttributeFeature],
) -> ir.Table:
    """The snapshot as one unsorted Ibis expression, its ``as_of`` literals from ``clock``."""
    base = _population(sources, clock.lit(), definition)
    parts = [p for make in _PARTS if (p := make(sources, clock)) is not None]
    if (customers := _customers(sources, clock, attributes)) is not None:
        parts.append(customers)
    # One flat join of the per-customer aggregates; every feature is then derived in the
    # single SELECT below, as a hand-written query would.
    table = base
    for part in parts:
        table = table.left_join(part.table, base.customer_id == part.table[part.key])
    values: dict[str, ir.Value] = {}
    for part in parts:
        for name, value in part.features.items():
            values[name] = value.fill_null(0) if name in part.zero else value
    firsts = [p.first_seen.fill_null(0.0) for p in parts if p.first_seen is not None]
    tenure = firsts[0] if len(firsts) == 1 else ibis.greatest(*firsts)
    values["tenure_days"] = tenure
    last_message = next((p.internal["_last_message"] for p in parts if p.internal), None)
    if last_message is not None:
        values["days_since_contact"] = last_message.isnull().ifelse(
            tenure, clock.days_since(last_message)
        )
    out: dict[str, ir.Value] = {"customer_id": base.customer_id}
    columns = [(f.name, f.categorical) for f in FEATURES]
    columns += [(a.name, a.kind == "categorical") for a in attributes]
    for name, categorical in columns:
        dtype = "string" if categorical else "float64"
        value = values.get(name)
        out[name] = ibis.null(dtype) if value is None else value.cast(dtype)
    return table.select(**out)
