"""What counts as a customer's activity: completed orders, events (optionally only some names).

Metrics slice these rows into periods; churn labels and features look for them after a
reference date. Both take them from :func:`activity_rows`, so "active" means the same thing in
the churn-rate metric and in the churn labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis.expr.types as ir

from retain.facts.columns import require_columns
from retain.facts.orders import completed_orders

__all__ = ["ActivityKind", "activity_rows"]

ActivityKind = Literal["orders", "events", "any"]
"""Orders only, events only, or both."""


def activity_rows(
    *,
    orders: ir.Table | None,
    events: ir.Table | None,
    kind: ActivityKind = "orders",
    event_names: Sequence[str] = (),
) -> list[ir.Table]:
    """``(customer_id, at)`` tables, one per source that counts as activity under ``kind``.

    Orders count when completed (:func:`~retain.facts.orders.completed_orders`); events count
    when their ``name`` is in ``event_names`` (every event when empty). A source that ``kind``
    names but that is ``None`` contributes nothing: the caller decides whether that is an error.
    Rows without a customer or a time are dropped.
    """
    parts: list[ir.Table] = []
    if kind in ("orders", "any") and orders is not None:
        done = completed_orders(orders)
        parts.append(done.select(customer_id=done.customer_id, at=done.ordered_at))
    if kind in ("events", "any") and events is not None:
        require_columns(events, name="events", columns=("customer_id", "occurred_at", "name"))
        chosen = events
        if event_names:
            chosen = chosen.filter(chosen.name.isin(list(event_names)))
        chosen = chosen.filter(chosen.occurred_at.notnull() & chosen.customer_id.notnull())
        parts.append(chosen.select(customer_id=chosen.customer_id, at=chosen.occurred_at))
    return parts
