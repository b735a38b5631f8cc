"""Value at risk: what a customer's leaving would cost, the one definition of it.

A customer's value at risk is the churn probability times the customer's lifetime value
(p(churn) x CLV). A customer without a CLV score has no value at risk (null, shown as "n/a"):
the list still shows them, ordered by probability, and totals count them as 0, so nothing is
claimed about their value. The at-risk list sorts by :func:`value_at_risk` and the
overview's headline sums it with :func:`total_value_at_risk`, so the two always agree.

Lifetime values are in the reporting currency before they are multiplied or summed
(:func:`clv_in_reporting_currency`, applied where the current CLV scores are read): a score
written in another currency is converted at the rate of its ``as_of`` day, or the list refuses
with an error naming the currencies (:mod:`retain.facts.money`), never adding JPY to USD.
"""

from __future__ import annotations

import ibis.expr.types as ir

from retain.facts import in_reporting_currency

__all__ = ["CLV_AMOUNTS", "clv_in_reporting_currency", "total_value_at_risk", "value_at_risk"]

CLV_AMOUNTS = ("clv", "monetary_value", "expected_spend")
"""The money columns of ``clv_scores``."""


def clv_in_reporting_currency(
    scores: ir.Table, *, currency: str | None = None, rates: ir.Table | None = None
) -> ir.Table:
    """``clv_scores`` rows with :data:`CLV_AMOUNTS` in the reporting currency (at ``as_of``)."""
    return in_reporting_currency(
        scores,
        name="clv_scores",
        date="as_of",
        amounts=CLV_AMOUNTS,
        currency=currency,
        rates=rates,
    )


def value_at_risk(probability: ir.NumericValue, clv: ir.NumericValue) -> ir.FloatingValue:
    """p(churn) x CLV per row; null where the CLV is unknown."""
    return (probability * clv).cast("float64")


def total_value_at_risk(probability: ir.NumericColumn, clv: ir.NumericColumn) -> ir.FloatingScalar:
    """The sum of :func:`value_at_risk` over the rows, unknown values as 0 (an aggregate)."""
    return value_at_risk(probability, clv).fill_null(0.0).sum()  # type: ignore[return-value]
