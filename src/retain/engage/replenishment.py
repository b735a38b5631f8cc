"""When a customer's product runs out: repurchase intervals learned from order lines.

A product bought again and again (tea, coffee, pet food, contact lenses) has a typical time
between purchases. :func:`repurchase_intervals` learns it from completed orders' lines, per unit
(two bags last twice as long as one): for each product the median of every customer's gaps, and
for a customer with enough gaps of their own their own median. The median ignores the odd long
gap (a holiday, a stock-up elsewhere) and the odd short one (a gift), which a mean would not.
Same-day repeats are one purchase.

:func:`due_reminders` turns the last purchase into an expected run-out and a reminder date
``lead_days`` before it: a shop selling one bag of tea a month reminds on day 20 with the
default lead of 10 days.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp
from retain.features import Sources
from retain.i18n import t

__all__ = ["due_reminders", "purchases", "repurchase_intervals"]

_DAY = 86_400.0


def purchases(sources: Sources, as_of: DateLike) -> ir.Table:
    """``(customer_id, product_id, product_name, ordered_at, quantity)`` per customer, product, day.

    Lines of completed orders placed on or before ``as_of`` with a positive quantity.
    """
    orders = sources.completed_orders()
    lines = sources.order_lines
    if orders is None or lines is None:
        raise InvalidParameterError(
            t("engage_playbooks.trigger_needs_table", kind="replenishment", table="order_lines"),
            hint=t("engage_playbooks.trigger_needs_table_hint", table="order_lines"),
        )
    run = as_timestamp(as_of)
    orders = orders.filter(orders.ordered_at <= run).select("order_id", "customer_id", "ordered_at")
    lines = lines.filter(lines.quantity > 0).select(
        "order_id", "product_id", "product_name", "quantity"
    )
    joined = lines.join(orders, "order_id")
    day = joined.ordered_at.date()
    return (
        joined.group_by(customer_id=joined.customer_id, product_id=joined.product_id, day=day)
        .agg(
            product_name=joined.product_name.max(),
            ordered_at=joined.ordered_at.min(),
            quantity=joined.quantity.sum(),
        )
        .drop("day")
    )


def _gaps(bought: ir.Table) -> ir.Table:
    """Days per unit between a customer's consecutive purchases of a product."""
    window = ibis.window(
        group_by=[bought.customer_id, bought.product_id], order_by=bought.ordered_at
    )
    prev = bought.mutate(
        prev_at=bought.ordered_at.lag().over(window), prev_qty=bought.quantity.lag().over(window)
    )
    prev = prev.filter(prev.prev_at.notnull())
    seconds = prev.ordered_at.epoch_seconds() - prev.prev_at.epoch_seconds()
    return prev.select(
        "customer_id",
        "product_id",
        gap=(seconds / _DAY) / prev.prev_qty.cast("float64"),
    )


def repurchase_intervals(
    sources: Sources,
    as_of: DateLike,
    *,
    min_customer_intervals: int = 3,
    min_product_intervals: int = 5,
) -> ir.Table:
    """``(customer_id, product_id, interval_days, source)`` for every customer's products.

    ``interval_days`` is per unit: the customer's own median gap when they have at least
    ``min_customer_intervals`` gaps (``source = "customer"``), else the product's median over
    every customer when it has at least ``min_product_intervals`` gaps (``"product"``).
    Products with fewer gaps have no interval (nobody buys them again often enough to tell).
    """
    bought = purchases(sources, as_of)
    return _intervals(
        bought,
        bought.select("customer_id", "product_id").distinct(),
        min_customer_intervals=min_customer_intervals,
        min_product_intervals=min_product_intervals,
    )


def _intervals(
    bought: ir.Table,
    pairs: ir.Table,
    *,
    min_customer_intervals: int,
    min_product_intervals: int,
) -> ir.Table:
    """:func:`repurchase_intervals` of ``pairs`` (distinct customer-product) from ``bought``.

    Takes the purchases already built, so a caller that needs them too reads the order lines
    once (the warehouse scans and joins them once per use otherwise).
    """
    gaps = _gaps(bought)
    own = gaps.group_by(["customer_id", "product_id"]).agg(
        own=gaps.gap.median(), own_n=gaps.gap.count()
    )
    product = gaps.group_by("product_id").agg(typical=gaps.gap.median(), n=gaps.gap.count())
    product = product.filter(product.n >= min_product_intervals)
    joined = pairs.left_join(own, ["customer_id", "product_id"]).drop(
        "customer_id_right", "product_id_right"
    )
    joined = joined.left_join(product, "product_id").drop("product_id_right")
    mine = joined.own.notnull() & (joined.own_n >= min_customer_intervals)
    out = joined.select(
        "customer_id",
        "product_id",
        interval_days=mine.ifelse(joined.own, joined.typical),
        source=mine.ifelse(
            "customer", joined.typical.notnull().ifelse("product", ibis.null("string"))
        ),
    )
    return out.filter(out.interval_days.notnull() & (out.interval_days > 0))


def due_reminders(
    sources: Sources,
    as_of: DateLike,
    *,
    lead_days: int = 10,
    min_customer_intervals: int = 3,
    min_product_intervals: int = 5,
) -> ir.Table:
    """Each customer's products with their expected run-out and reminder date.

    Columns: ``customer_id, product_id, product_name, last_ordered_at, quantity, interval_days,
    source, run_out_at, due_at``. ``run_out_at`` is the day the last purchase runs out (last
    purchase + interval x units, at midnight); ``due_at`` is ``lead_days`` before it.
    """
    bought = purchases(sources, as_of)
    # one pass over the purchases: each pair's gaps (own median) and its last purchase
    # together; only the product medians read the gaps a second time
    window = ibis.window(
        group_by=[bought.customer_id, bought.product_id], order_by=bought.ordered_at
    )
    prev_at = bought.ordered_at.lag().over(window)
    prev_qty = bought.quantity.lag().over(window)
    seconds = bought.ordered_at.epoch_seconds() - prev_at.epoch_seconds()
    steps = bought.mutate(_gap=(seconds / _DAY) / prev_qty.cast("float64"))
    own = steps.group_by(["customer_id", "product_id"]).agg(
        product_name=steps.product_name.argmax(steps.ordered_at),
        quantity=steps.quantity.argmax(steps.ordered_at),
        ordered_at=steps.ordered_at.max(),
        own=steps._gap.median(),
        own_n=steps._gap.count(),
    )
    gaps = steps.filter(steps._gap.notnull())
    product = gaps.group_by("product_id").agg(typical=gaps._gap.median(), n=gaps._gap.count())
    product = product.filter(product.n >= min_product_intervals)
    both = own.left_join(product, "product_id").drop("product_id_right")
    mine = both.own.notnull() & (both.own_n >= min_customer_intervals)
    last = both.select(
        "customer_id",
        "product_id",
        "product_name",
        "ordered_at",
        "quantity",
        interval_days=mine.ifelse(both.own, both.typical),
        source=mine.ifelse(
            "customer", both.typical.notnull().ifelse("product", ibis.null("string"))
        ),
    )
    joined = last.filter(last.interval_days.notnull() & (last.interval_days > 0))
    lasts = (joined.interval_days * joined.quantity.cast("float64") * _DAY).round().cast("int64")
    run_out = (joined.ordered_at + lasts.as_interval("s")).truncate("D")  # type: ignore[attr-defined]
    joined = joined.mutate(run_out_at=run_out)
    return joined.select(
        "customer_id",
        "product_id",
        "product_name",
        last_ordered_at=joined.ordered_at,
        quantity=joined.quantity,
        interval_days=joined.interval_days,
        source=joined.source,
        run_out_at=joined.run_out_at,
        due_at=joined.run_out_at - ibis.interval(days=lead_days),
    )
