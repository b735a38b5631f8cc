"""RFM scores and segments, and purchase-frequency segments, computed in the engine.

A customer is scored as of a date from their completed orders
(:func:`retain.facts.completed_orders`) placed before that date; customers with none (never
bought, or only refunds and returns) are not scored. Per customer:

- **recency**: days from the last completed order to ``as_of``;
- **frequency**: number of completed orders;
- **monetary**: net revenue (:func:`retain.facts.net_revenue`: completed amounts minus refunds
  and returns) before ``as_of``, in the reporting currency.

Each becomes a score from 1 to ``bins`` by rank: ``1 + floor(bins * rank / n)``, where ``rank``
is the number of customers strictly worse (longer ago, fewer orders, less revenue) and ``n`` the
number scored. Ties share the lower score, so every one-time buyer gets F = 1 and the score never
depends on row order: DuckDB, PostgreSQL and Spark give the same scores. The segment name comes
from the (R, F) rule table of :mod:`retain.targeting.segments.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp, completed_orders, net_revenue
from retain.i18n import t
from retain.targeting.segments.rules import RFM_RULES

__all__ = ["FrequencyThresholds", "frequency_segments", "rfm_scores"]


def _check_bins(bins: int) -> None:
    if not 2 <= bins <= 20:
        raise InvalidParameterError(
            t("segments.bad_bins", bins=bins), hint=t("segments.bad_bins_hint")
        )


def _score(column: ir.Column, n: ir.IntegerValue, bins: int) -> ir.IntegerValue:
    """``1 + floor(bins * rank / n)`` with ``rank`` the count of strictly smaller values."""
    rank = ibis.rank().over(ibis.window(order_by=column)).cast("int64")
    return (rank * bins // n + 1).cast("int64")


def _to_five(score: ir.IntegerValue, bins: int) -> ir.IntegerValue:
    return ((score * 5 + (bins - 1)) // bins).cast("int64")


def _segment(r5: ir.IntegerValue, f5: ir.IntegerValue) -> ir.StringValue:
    cases = [
        (
            (r5 >= rule.recency[0])
            & (r5 <= rule.recency[1])
            & (f5 >= rule.frequency[0])
            & (f5 <= rule.frequency[1]),
            rule.name,
        )
        for rule in RFM_RULES
    ]
    return ibis.cases(*cases, else_=ibis.null("string"))


def _per_customer(orders: ir.Table, as_of: DateLike, currency: str | None) -> ir.Table:
    """``customer_id, last_order_at, frequency, monetary`` over orders before ``as_of``."""
    cut = as_timestamp(as_of)
    done = completed_orders(orders, currency=currency)
    done = done.filter(done.ordered_at < cut)
    counts = done.group_by("customer_id").aggregate(
        last_order_at=done.ordered_at.max(), frequency=done.count().cast("int64")
    )
    revenue = net_revenue(orders, currency=currency)
    revenue = revenue.filter(revenue.ordered_at < cut)
    money = revenue.group_by("customer_id").aggregate(monetary=revenue.revenue.sum())
    joined = counts.left_join(money, "customer_id")
    return joined.select(
        counts.customer_id,
        counts.last_order_at,
        counts.frequency,
        monetary=money.monetary.fill_null(0.0).cast("float64"),
    )


def rfm_scores(
    orders: ir.Table, as_of: DateLike, *, bins: int = 5, currency: str | None = None
) -> ir.Table:
    """One row per customer who bought before ``as_of``: values, scores and RFM segment.

    Columns: ``customer_id, last_order_at, recency_days, frequency, monetary, r, f, m, segment``
    (scores in ``1..bins``; see the module docstring). Nothing is executed.
    """
    _check_bins(bins)
    cut = as_timestamp(as_of)
    base = _per_customer(orders, as_of, currency)
    base = base.mutate(
        recency_days=(ibis.literal(cut).date() - base.last_order_at.date()).cast("int64"),
        _n=base.count().over(ibis.window()).cast("int64"),
    )
    scored = base.mutate(
        # Longer ago ranks lower: order by the last order's date, oldest first.
        r=_score(base.last_order_at.date(), base._n, bins),
        f=_score(base.frequency, base._n, bins),
        m=_score(base.monetary, base._n, bins),
    )
    named = scored.mutate(segment=_segment(_to_five(scored.r, bins), _to_five(scored.f, bins)))
    return named.select(
        "customer_id",
        "last_order_at",
        "recency_days",
        "frequency",
        "monetary",
        "r",
        "f",
        "m",
        "segment",
    )


@dataclass(frozen=True)
class FrequencyThresholds:
    """Completed orders that make a customer frequent or occasional (fewer: one-time).

    ``window_days`` counts only orders in the days before ``as_of`` (None: all history).
    """

    frequent: int = 4
    occasional: int = 2
    window_days: int | None = None

    def __post_init__(self) -> None:
        if not 2 <= self.occasional < self.frequent:
            raise InvalidParameterError(
                t(
                    "segments.bad_thresholds",
                    occasional=self.occasional,
                    frequent=self.frequent,
                ),
                hint=t("segments.bad_thresholds_hint"),
            )
        if self.window_days is not None and self.window_days < 1:
            raise InvalidParameterError(
                t("segments.bad_window", days=self.window_days),
                hint=t("segments.bad_window_hint"),
            )


def frequency_segments(
    orders: ir.Table,
    as_of: DateLike,
    *,
    thresholds: FrequencyThresholds | None = None,
    currency: str | None = None,
) -> ir.Table:
    """``customer_id, frequency, segment``: frequent, occasional or one_time as of ``as_of``.

    Customers without a completed order in the window are not listed.
    """
    limits = thresholds or FrequencyThresholds()
    cut = as_timestamp(as_of)
    done = completed_orders(orders, currency=currency)
    done = done.filter(done.ordered_at < cut)
    if limits.window_days is not None:
        start = cut - pd.Timedelta(days=limits.window_days)
        done = done.filter(done.ordered_at >= start)
    counts = done.group_by("customer_id").aggregate(frequency=done.count().cast("int64"))
    segment = ibis.cases(
        (counts.frequency >= limits.frequent, "frequent"),
        (counts.frequency >= limits.occasional, "occasional"),
        else_="one_time",
    )
    return counts.select("customer_id", "frequency", segment=segment)
