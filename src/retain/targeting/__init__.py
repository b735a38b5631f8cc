"""Decisions: who is at risk, what they are worth, and which of them to act on.

Library code over an Ibis backend, below the service and the CLI (DESIGN.md, "Layers"): the
service and the dashboard call these functions and render what they return.

- :mod:`~retain.targeting.scores`: the latest churn score per (customer, definition) and the
  latest CLV per customer.
- :mod:`~retain.targeting.value`: value at risk, p(churn) x CLV, defined once.
- :mod:`~retain.targeting.query`: :class:`AtRiskQuery`, the at-risk list's filters, order and
  page as one checked object that request parameters and saved segments convert to and from.
- :mod:`~retain.targeting.at_risk`: the at-risk list, a page at a time, and the overview's
  summary of it; :mod:`~retain.targeting.export`: the same list as CSV.

Rows carry their churn reasons in the reader's language, read with
:func:`retain.models.churn.reasons.render_stored_reasons`.
"""

from retain.targeting.at_risk import (
    AtRiskPage,
    AtRiskRow,
    at_risk,
    at_risk_summary,
    at_risk_table,
    scored_customers,
)
from retain.targeting.export import AtRiskExport, export_at_risk
from retain.targeting.query import RISK_BANDS, SORT_KEYS, AtRiskQuery, RiskBand, SortKey
from retain.targeting.scores import (
    CHURN_RECENCY,
    CLV_RECENCY,
    latest_churn_scores,
    latest_clv_scores,
    latest_per_definition,
)
from retain.targeting.value import total_value_at_risk, value_at_risk

__all__ = [
    "CHURN_RECENCY",
    "CLV_RECENCY",
    "RISK_BANDS",
    "SORT_KEYS",
    "AtRiskExport",
    "AtRiskPage",
    "AtRiskQuery",
    "AtRiskRow",
    "RiskBand",
    "SortKey",
    "at_risk",
    "at_risk_summary",
    "at_risk_table",
    "export_at_risk",
    "latest_churn_scores",
    "latest_clv_scores",
    "latest_per_definition",
    "scored_customers",
    "total_value_at_risk",
    "value_at_risk",
]
