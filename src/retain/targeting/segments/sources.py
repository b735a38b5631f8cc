"""Acquisition-source quality: do the customers a channel or a first discount brings stay.

Seed 002's "freebie seekers": customers won with a large discount who stay only while discounts
last. For each acquisition channel (``customers.acquisition_channel``; empty or no customer row
is ``unknown``) and for each first-order discount (``none``, ``some``, ``large``), over the buyers
whose first completed order (:func:`retain.facts.completed_orders`) is before ``as_of``:

- ``customers``: how many;
- ``retention_90d`` / ``retention_180d``: the share that placed another completed order within 90
  (180) days of their first, among those whose first order is at least 90 (180) days before
  ``as_of`` (``eligible_90d`` / ``eligible_180d``; the others cannot be judged yet); empty when
  none is;
- ``mean_clv``: the mean of their latest stored CLV (``clv_customers`` have one; empty without
  ``retain clv predict``);
- ``discount_dependence``: the share of their later completed orders (after the first) that
  carried a discount; empty when they placed none.

The first order's discount share is ``discount_amount / (amount + discount_amount)`` (the price
before the discount): ``none`` when there is no discount, ``large`` from ``large_pct`` percent
(default 20), ``some`` below. Everything runs in the warehouse's engine, so DuckDB, PostgreSQL
and Spark agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain import warehouse as wh
from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp, completed_orders
from retain.facts.orders import flag
from retain.i18n import t
from retain.targeting.scores import latest_clv_scores

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "DISCOUNT_TIERS",
    "SOURCE_DIMENSIONS",
    "SourceDimension",
    "default_as_of",
    "segment_label",
    "source_label",
    "source_quality",
]

SourceDimension = Literal["channel", "first_discount"]
SOURCE_DIMENSIONS: tuple[SourceDimension, ...] = ("channel", "first_discount")
"""What customers are grouped by: acquisition channel, or their first order's discount."""

DISCOUNT_TIERS = ("none", "some", "large")
"""First-order discount groups, smallest first."""

UNKNOWN_CHANNEL = "unknown"
"""The channel of buyers with no ``acquisition_channel`` (or no customer row)."""

COLUMNS = (
    "dimension",
    "source",
    "customers",
    "eligible_90d",
    "retention_90d",
    "eligible_180d",
    "retention_180d",
    "clv_customers",
    "mean_clv",
    "later_orders",
    "discount_dependence",
)
"""The columns of :func:`source_quality`, in order."""


def _default_as_of(done: ir.Table) -> ir.TimestampScalar:
    """The day after the last completed order: every order counts."""
    return (done.ordered_at.max().truncate("D") + ibis.interval(days=1)).cast("timestamp")


def default_as_of(con: BaseBackend, currency: str | None = None) -> pd.Timestamp | None:
    """The date :func:`source_quality` uses without one (``None`` when nobody bought)."""
    done = completed_orders(wh.read_table(con, "orders"), currency=currency)
    value = _default_as_of(done).execute()
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def segment_label(name: str) -> str:
    """A segment's name in the reader's language (the name itself when it has no label)."""
    key = f"segments.label_{name}"
    text = t(key)
    return name if text == key else text


def source_label(dimension: str, source: str) -> str:
    """A source's name for readers: discount tiers and ``unknown`` translated, channels as is."""
    if dimension == "first_discount" or source == UNKNOWN_CHANNEL:
        return t(f"segments.source_{source}")
    return source


def _buyers(
    con: BaseBackend, as_of: DateLike | None, large_pct: float, currency: str | None
) -> tuple[ir.Table, ir.TimestampValue]:
    """One row per buyer: first order time, its discount tier, later-order counts."""
    orders = wh.read_table(con, "orders")
    done = completed_orders(orders, currency=currency)
    cut: ir.TimestampValue = (
        ibis.literal(as_timestamp(as_of).to_pydatetime(), "timestamp")
        if as_of is not None
        else _default_as_of(done)
    )
    done = done.filter(done.ordered_at < cut)
    discount = (
        done.discount_amount.cast("float64").fill_null(0.0)
        if "discount_amount" in done.columns
        else ibis.literal(0.0, "float64")
    )
    window = ibis.window(group_by=done.customer_id, order_by=[done.ordered_at, done.order_id])
    ranked = done.select(
        done.customer_id,
        done.ordered_at,
        amount=done.amount.cast("float64"),
        discount=discount,
        _n=ibis.row_number().over(window),
    )
    first = ranked.filter(ranked._n == 0)
    gross = first.amount + first.discount
    tier = ibis.cases(
        (first.discount <= 0, "none"),
        ((gross > 0) & (first.discount * 100 >= gross * large_pct), "large"),
        else_="some",
    )
    first = first.select("customer_id", first_at=first.ordered_at, first_discount=tier)
    later = ranked.filter(ranked._n > 0)
    later = later.inner_join(first, "customer_id")
    per = later.group_by("customer_id").aggregate(
        later_orders=later.count().cast("int64"),
        discounted=flag(later.discount > 0).sum().cast("int64"),
        within_90=flag(later.ordered_at <= later.first_at + ibis.interval(days=90)).sum(),
        within_180=flag(later.ordered_at <= later.first_at + ibis.interval(days=180)).sum(),
    )
    buyers = first.left_join(per, "customer_id").select(
        first.customer_id,
        first.first_at,
        first.first_discount,
        later_orders=per.later_orders.fill_null(0),
        discounted=per.discounted.fill_null(0),
        retained_90=per.within_90.fill_null(0) > 0,
        retained_180=per.within_180.fill_null(0) > 0,
    )
    return buyers, cut


def _channels(con: BaseBackend, buyers: ir.Table) -> ir.Table:
    if wh.table_exists(con, "customers"):
        customers = con.table("customers")
        known = customers.select(
            "customer_id", channel=customers.acquisition_channel.cast("string")
        )
        joined = buyers.left_join(known, "customer_id")
        channel = joined.channel
        buyers = joined.select(buyers, channel=channel)
    else:
        buyers = buyers.mutate(channel=ibis.null("string"))
    blank = buyers.channel.isnull() | (buyers.channel.strip() == "")
    return buyers.mutate(channel=ibis.ifelse(blank, UNKNOWN_CHANNEL, buyers.channel))


def _with_clv(con: BaseBackend, buyers: ir.Table, as_of: DateLike | None) -> ir.Table:
    if not wh.table_exists(con, "clv_scores"):
        return buyers.mutate(clv=ibis.null("float64"))
    clv = latest_clv_scores(con, as_of=as_of)
    clv = clv.select("customer_id", clv=clv.clv.cast("float64"))
    joined = buyers.left_join(clv, "customer_id")
    return joined.select(buyers, clv=joined.clv)


def _share(numerator: ir.IntegerValue, denominator: ir.IntegerValue) -> ir.FloatingValue:
    return ibis.ifelse(
        denominator > 0,
        numerator.cast("float64") / denominator.cast("float64"),
        ibis.null("float64"),
    )


def source_quality(
    con: BaseBackend,
    as_of: DateLike | None = None,
    *,
    by: SourceDimension | None = None,
    large_pct: float = 20,
    currency: str | None = None,
) -> ir.Table:
    """Retention, CLV and discount dependence per acquisition source (the module docstring).

    ``by`` picks one grouping (``channel`` or ``first_discount``); without it both, one after
    the other, told apart by ``dimension``. ``as_of`` defaults to the day after the last
    completed order. Channels are listed largest first, discount tiers none, some, large.
    """
    if by is not None and by not in SOURCE_DIMENSIONS:
        raise InvalidParameterError(
            t("segments.unknown_dimension", by=by, choices=", ".join(SOURCE_DIMENSIONS)),
            hint=t("segments.unknown_dimension_hint"),
        )
    if not 0 < large_pct <= 100:
        raise InvalidParameterError(
            t("segments.bad_large_discount", pct=large_pct),
            hint=t("segments.bad_large_discount_hint"),
        )
    buyers, cut = _buyers(con, as_of, large_pct, currency)
    buyers = _with_clv(con, _channels(con, buyers), as_of)
    elig_90 = buyers.first_at + ibis.interval(days=90) <= cut
    elig_180 = buyers.first_at + ibis.interval(days=180) <= cut
    buyers = buyers.mutate(
        _e90=flag(elig_90),
        _r90=flag(elig_90 & buyers.retained_90),
        _e180=flag(elig_180),
        _r180=flag(elig_180 & buyers.retained_180),
    )
    parts: list[ir.Table] = []
    for dimension in (by,) if by is not None else SOURCE_DIMENSIONS:
        key = "channel" if dimension == "channel" else "first_discount"
        agg = buyers.group_by(source=buyers[key]).aggregate(
            customers=buyers.count().cast("int64"),
            eligible_90d=buyers._e90.sum().cast("int64"),
            retained_90d=buyers._r90.sum().cast("int64"),
            eligible_180d=buyers._e180.sum().cast("int64"),
            retained_180d=buyers._r180.sum().cast("int64"),
            clv_customers=buyers.clv.count().cast("int64"),
            mean_clv=buyers.clv.mean().cast("float64"),
            later_orders=buyers.later_orders.sum().cast("int64"),
            discounted=buyers.discounted.sum().cast("int64"),
        )
        if dimension == "channel":
            order = -agg.customers
        else:
            order = ibis.cases(*((agg.source == v, i) for i, v in enumerate(DISCOUNT_TIERS)))
        parts.append(
            agg.select(
                dimension=ibis.literal(dimension, "string"),
                source=agg.source,
                customers=agg.customers,
                eligible_90d=agg.eligible_90d,
                retention_90d=_share(agg.retained_90d, agg.eligible_90d),
                eligible_180d=agg.eligible_180d,
                retention_180d=_share(agg.retained_180d, agg.eligible_180d),
                clv_customers=agg.clv_customers,
                mean_clv=agg.mean_clv,
                later_orders=agg.later_orders,
                discount_dependence=_share(agg.discounted, agg.later_orders),
                _part=ibis.literal(SOURCE_DIMENSIONS.index(dimension), "int64"),
                _order=order.cast("int64"),
            )
        )
    out = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    return out.order_by(["_part", "_order", "source"]).drop("_part", "_order")
