"""The value x risk grid: CLV tiers crossed with churn risk bands.

A customer's CLV is their latest ``clv_scores`` row and their risk their latest ``churn_scores``
row known on ``as_of`` (:mod:`retain.targeting.scores`, the one reading of "latest"). CLV tiers
are by rank among the customers with both scores: the top ``high_pct`` percent are ``high``, the
next down to ``medium_pct`` percent ``medium``, the rest ``low`` (ties share the lower tier, as in
the RFM scores). The risk band is the stored ``risk_band`` of the churn score; with several
business lines and no ``definition`` chosen, a customer's riskiest line decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from retain.errors import InvalidParameterError
from retain.facts import DateLike
from retain.i18n import t
from retain.targeting.scores import latest_churn_scores, latest_clv_scores

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["value_risk_grid"]


def _riskiest(churn: ir.Table) -> ir.Table:
    """One row per customer: their highest-probability line (then the first definition)."""
    window = ibis.window(
        group_by=churn.customer_id, order_by=[churn.probability.desc(), churn.definition]
    )
    ranked = churn.mutate(_rank=ibis.row_number().over(window))
    return ranked.filter(ranked._rank == 0).drop("_rank")


def value_risk_grid(
    con: BaseBackend,
    as_of: DateLike | None = None,
    *,
    definition: str | None = None,
    high_pct: int = 20,
    medium_pct: int = 50,
) -> ir.Table:
    """``customer_id, clv, probability, value_tier, risk_band, segment`` per scored customer.

    ``segment`` is ``<tier>_value_<band>_risk`` (e.g. ``high_value_high_risk``). Customers
    without both a CLV and a churn score (with a risk band) are not listed.
    """
    if not 0 < high_pct < medium_pct < 100:
        raise InvalidParameterError(
            t("segments.bad_tiers", high=high_pct, medium=medium_pct),
            hint=t("segments.bad_tiers_hint"),
        )
    churn = _riskiest(latest_churn_scores(con, definition, as_of=as_of))
    churn = churn.filter(churn.risk_band.notnull())
    clv = latest_clv_scores(con, as_of=as_of)
    clv = clv.filter(clv.clv.notnull())
    both = clv.inner_join(churn, "customer_id").select(
        clv.customer_id,
        clv=clv.clv.cast("float64"),
        probability=churn.probability.cast("float64"),
        risk_band=churn.risk_band,
    )
    n = both.count().over(ibis.window()).cast("int64")
    # Customers with a strictly higher CLV: the top high_pct percent have fewer than that share.
    above = ibis.rank().over(ibis.window(order_by=both.clv.desc())).cast("int64")
    ranked = both.mutate(_n=n, _above=above)
    tier = ibis.cases(
        (ranked._above * 100 < ranked._n * high_pct, "high"),
        (ranked._above * 100 < ranked._n * medium_pct, "medium"),
        else_="low",
    )
    out = ranked.mutate(value_tier=tier)
    return out.select(
        "customer_id",
        "clv",
        "probability",
        "value_tier",
        "risk_band",
        segment=out.value_tier + "_value_" + out.risk_band + "_risk",
    )
