"""The shop line: buy-till-you-die purchases, turned into ``orders`` and ``order_lines``.

While alive, a shop customer orders at the points of a Poisson process with their own rate
``lambda`` (the first order is the acquisition, as in Pareto/NBD, where time zero is the first
purchase). Retention campaigns add offer-induced orders on top (``_campaigns``). Every order gets
1-4 lines from the catalog, biased to the customer's favourite category; discount seekers get a
discount on most orders, the others rarely. A few orders end cancelled or returned (the amount
stays the order total; the status says what happened).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from retain.demo._customers import pick
from retain.demo._params import CATALOG
from retain.demo._timeline import FloatArray, IntArray, poisson_times
from retain.demo._world import World

__all__ = ["ORDER_CHANNELS", "Purchases", "base_purchases", "order_tables"]

ORDER_CHANNELS = ("web", "app", "store")
_ORDER_CHANNEL_SHARES = (0.5, 0.35, 0.15)
_SEEKER_DISCOUNTS = (0.1, 0.15, 0.2, 0.3)


@dataclass
class Purchases:
    """Order times of shop customers (positions in the chunk) and each order's discount rate."""

    owner: IntArray
    time: FloatArray
    discount: FloatArray

    def __add__(self, other: Purchases) -> Purchases:
        return Purchases(
            np.concatenate([self.owner, other.owner]),
            np.concatenate([self.time, other.time]),
            np.concatenate([self.discount, other.discount]),
        )


def base_purchases(w: World) -> Purchases:
    """Orders from the buy-till-you-die process alone: the first at acquisition, then Poisson."""
    rng = w.rng
    shop = np.flatnonzero(~w.is_sub).astype(np.int64)
    owner, time = poisson_times(rng, w.acquired[shop], w.end_first[shop], w.lam[shop], sort=False)
    owner = np.concatenate([shop, shop[owner]])
    time = np.concatenate([w.acquired[shop], time])
    n = owner.size
    seeker = w.discount_seeker[owner]
    share = np.where(
        seeker, w.params.discount_seeker_order_share, w.params.other_order_discount_share
    )
    gets = rng.random(n) < share
    seeker_rate = np.asarray(_SEEKER_DISCOUNTS)[rng.integers(0, len(_SEEKER_DISCOUNTS), n)]
    discount = np.where(gets, np.where(seeker, seeker_rate, 0.1), 0.0)
    return Purchases(owner, time, discount)


def order_tables(w: World, purchases: Purchases) -> tuple[pa.Table, pa.Table, Purchases]:
    """``orders`` and ``order_lines`` for the given purchases, plus the orders placed in a store.

    The store orders come back so that the activity module can log a ``store_visit`` event.
    """
    rng, p = w.rng, w.params
    order = np.lexsort((purchases.owner, purchases.time))
    owner = purchases.owner[order]
    time = purchases.time[order]
    rate = purchases.discount[order]
    n = owner.size
    order_ids = w.new_ids("O", n)

    # Lines: 1-4 per order, from the favourite category 55% of the time.
    n_lines = 1 + np.minimum(rng.poisson(0.5, n), 3)
    line_order = np.repeat(np.arange(n, dtype=np.int64), n_lines)
    starts = np.cumsum(n_lines) - n_lines
    line_no = np.arange(line_order.size, dtype=np.int64) - starts[line_order] + 1
    categories = sorted({prod.category for prod in CATALOG})
    per_category = len(CATALOG) // len(categories)
    favourite = rng.integers(0, len(categories), w.n)
    from_favourite = rng.random(line_order.size) < 0.55
    product = np.where(
        from_favourite,
        favourite[owner[line_order]] * per_category
        + rng.integers(0, per_category, line_order.size),
        rng.integers(0, len(CATALOG), line_order.size),
    )
    quantity = 1 + np.minimum(rng.poisson(0.25, line_order.size), 3)
    price = np.array([prod.price for prod in CATALOG])[product]
    gross = np.bincount(line_order, weights=quantity * price, minlength=n)
    discount = np.round(gross * rate, 2)
    amount = np.round(gross - discount, 2)

    u = rng.random(n)
    status = np.where(
        u < p.cancelled_order_share,
        1,
        np.where(u < p.cancelled_order_share + p.returned_order_share, 2, 0),
    )
    first = np.zeros(n, dtype=bool)
    first[np.unique(owner, return_index=True)[1]] = True
    status = np.where(first, 0, status)
    channel = rng.choice(len(ORDER_CHANNELS), size=n, p=_ORDER_CHANNEL_SHARES)

    orders = pa.table(
        {
            "order_id": order_ids,
            "customer_id": w.customer_ids(owner),
            "ordered_at": w.timestamps(time),
            "amount": pa.array(amount),
            "currency": pa.array(np.full(n, "USD")),
            "status": pick(["completed", "cancelled", "returned"], status),
            "channel": pick(ORDER_CHANNELS, channel),
            "discount_amount": pa.array(discount),
        }
    )
    lines = pa.table(
        {
            "order_id": order_ids.take(pa.array(line_order)),
            "line_no": pa.array(line_no),
            "product_id": pick([prod.product_id for prod in CATALOG], product),
            "quantity": pa.array(quantity.astype(np.int64)),
            "unit_price": pa.array(price),
            "product_name": pick([prod.name for prod in CATALOG], product),
            "category": pick([prod.category for prod in CATALOG], product),
        }
    )
    in_store = channel == ORDER_CHANNELS.index("store")
    return orders, lines, Purchases(owner[in_store], time[in_store], rate[in_store])
