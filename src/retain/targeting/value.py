"""Value at risk: what a customer's leaving would cost, the one definition of it.

A customer's value at risk is the churn probability times the customer's lifetime value
(p(churn) x CLV). A customer without a CLV score has no value at risk (null, shown as "n/a"):
the list still shows them, ordered by probability, and totals count them as 0, so nothing is
claimed about their value. The at-risk list sorts by :func:`value_at_risk` and the
overview's headline sums it with :func:`total_value_at_risk`, so the two always agree.
"""

from __future__ import annotations

import ibis.expr.types as ir

__all__ = ["total_value_at_risk", "value_at_risk"]


def value_at_risk(probability: ir.NumericValue, clv: ir.NumericValue) -> ir.FloatingValue:
    """p(churn) x CLV per row; null where the CLV is unknown."""
    return (probability * clv).cast("float64")


def total_value_at_risk(probability: ir.NumericColumn, clv: ir.NumericColumn) -> ir.FloatingScalar:
    """The sum of :func:`value_at_risk` over the rows, unknown values as 0 (an aggregate)."""
    return value_at_risk(probability, clv).fill_null(0.0).sum()  # type: ignore[return-value]
