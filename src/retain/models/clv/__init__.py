"""Customer lifetime value: purchase, spend and retention models, summaries, scores, diagnostics.

- :func:`rfm_summary` builds frequency / recency / T / spend per customer in the warehouse
  engine; :func:`compress_summary` groups identical rows with a ``weight``.
- Purchase models (non-contractual): :class:`BetaGeoModel` (BG/NBD), :class:`ParetoNBDModel`,
  :class:`BetaGeoBetaBinomModel` (BG/BB, discrete opportunities).
- Spend: :class:`GammaGammaModel`. Contract renewals: :class:`ShiftedBetaGeometricModel`.
- :func:`customer_lifetime_value` combines them into a discounted margin per customer;
  :func:`fit_clv`, :func:`score_clv` and :func:`evaluate_clv` run the steps on a warehouse.
"""

from __future__ import annotations

from retain.models.clv.bgbb import BetaGeoBetaBinomModel
from retain.models.clv.bgnbd import BetaGeoModel
from retain.models.clv.diagnostics import (
    calibration_by_frequency,
    cumulative_tracking,
    holdout_metrics,
    holdout_predictions,
    plot_calibration_by_frequency,
    plot_cumulative_tracking,
    plot_probability_alive,
)
from retain.models.clv.gamma_gamma import GammaGammaModel
from retain.models.clv.pareto_nbd import ParetoNBDModel
from retain.models.clv.rfm import compress_summary, rfm_summary
from retain.models.clv.sbg import ShiftedBetaGeometricModel
from retain.models.clv.store import StoredModels, list_versions, load_models, save_models
from retain.models.clv.value import customer_lifetime_value, monthly_discount_rate
from retain.models.clv.workflow import Evaluation, evaluate_clv, fit_clv, score_clv, write_scores

__all__ = [
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "Evaluation",
    "GammaGammaModel",
    "ParetoNBDModel",
    "ShiftedBetaGeometricModel",
    "StoredModels",
    "calibration_by_frequency",
    "compress_summary",
    "cumulative_tracking",
    "customer_lifetime_value",
    "evaluate_clv",
    "fit_clv",
    "holdout_metrics",
    "holdout_predictions",
    "list_versions",
    "load_models",
    "monthly_discount_rate",
    "plot_calibration_by_frequency",
    "plot_cumulative_tracking",
    "plot_probability_alive",
    "rfm_summary",
    "save_models",
    "score_clv",
    "write_scores",
]
