"""What an order means: the completed-order rule and net revenue, for every layer.

**A completed order** is a purchase: its ``status`` is ``completed`` or empty, and its amount is
known and not negative. A negative completed amount is a refund line, not a purchase, and an
order with ``status`` ``cancelled`` or ``returned`` never happened as a sale. A zero amount (a
free sample, a fully discounted order) is a purchase: the customer came and bought. The
churn-rate metric, the churn labels and features, and the lifetime-value summary all count
orders by :func:`is_completed`, so they agree on the same data (docs/concepts.md).

**Net revenue** is what the business kept: completed amounts (refund lines included, negative)
minus the absolute amount of ``returned`` orders, in the period each row is dated.

**Amounts** of completed orders and net revenue are in the reporting currency: rows in other
currencies are converted with the loaded exchange rates, or refused when none covers them
(:mod:`retain.facts.money`); data in one currency is read as it is.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from retain.facts.columns import require_columns
from retain.facts.money import in_reporting_currency

__all__ = ["completed_orders", "flag", "is_completed", "net_revenue"]

ORDER_COLUMNS = ("customer_id", "ordered_at", "amount")
"""The columns every order computation needs."""


def _settled(orders: ir.Table) -> ir.BooleanValue:
    """Status empty or ``completed`` (``True`` for a table without a status column)."""
    if "status" not in orders.columns:
        return ibis.literal(True)
    return orders.status.isnull() | (orders.status == "completed")


def is_completed(orders: ir.Table) -> ir.BooleanValue:
    """Whether each row of ``orders`` is a completed order (see the module docstring)."""
    amount = orders.amount.cast("float64")
    return (
        _settled(orders)
        & amount.notnull()
        & (amount >= 0)
        & orders.ordered_at.notnull()
        & orders.customer_id.notnull()
    )


def completed_orders(
    orders: ir.Table, *, currency: str | None = None, rates: ir.Table | None = None
) -> ir.Table:
    """The rows of ``orders`` that are completed orders (:func:`is_completed`).

    Their ``amount`` (and ``discount_amount``) is in the reporting ``currency`` (default the
    configured one), converted with ``rates`` (default the warehouse's ``exchange_rates``);
    mixed currencies without rates raise (:func:`~retain.facts.money.in_reporting_currency`).
    """
    require_columns(orders, name="orders", columns=ORDER_COLUMNS)
    return in_reporting_currency(
        orders.filter(is_completed(orders)),
        name="orders",
        date="ordered_at",
        amounts=("amount", "discount_amount"),
        currency=currency,
        rates=rates,
    )


def net_revenue(
    orders: ir.Table, *, currency: str | None = None, rates: ir.Table | None = None
) -> ir.Table:
    """``customer_id, ordered_at, revenue``: completed amounts, returns as negative amounts.

    ``revenue`` is in the reporting ``currency`` (as in :func:`completed_orders`).
    """
    require_columns(orders, name="orders", columns=ORDER_COLUMNS)
    amount = orders.amount.cast("float64")
    if "status" in orders.columns:
        revenue = ibis.cases(
            (_settled(orders), amount),
            (orders.status == "returned", -amount.abs()),
            else_=ibis.null("float64"),
        )
    else:
        revenue = amount
    money = {"currency": orders.currency} if "currency" in orders.columns else {}
    out = orders.select(
        orders.customer_id, orders.ordered_at, revenue=revenue.cast("float64"), **money
    )
    out = out.filter(out.revenue.notnull() & out.ordered_at.notnull())
    out = in_reporting_currency(
        out, name="orders", date="ordered_at", amounts=("revenue",), currency=currency, rates=rates
    )
    return out.select("customer_id", "ordered_at", "revenue")


def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``condition`` holds, else 0 (PostgreSQL cannot cast booleans to bigint)."""
    return ibis.ifelse(condition, ibis.literal(1, "int64"), ibis.literal(0, "int64"))
