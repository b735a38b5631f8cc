"""Churn risk: the classifier, its backtest by time, per-customer reasons, registry and scoring.

The usual path is ``train_model`` (panel of monthly reference dates -> backtest against the
baselines -> final fit -> model card), ``save_model`` into ``settings.models_dir``, then
``score_customers`` into the ``churn_scores`` table; ``retain churn train|evaluate|score`` runs
exactly these.
"""

from __future__ import annotations

from retain.models.churn.backtest import (
    BASELINES,
    Backtest,
    backtest,
    calibration_table,
    evaluation_metrics,
    lift_table,
    logistic_baseline,
    repeated_cv,
)
from retain.models.churn.classifier import ChurnClassifier
from retain.models.churn.drift import drift_report, psi, reference_profile
from retain.models.churn.panel import (
    DataWindow,
    add_p_alive,
    build_panel,
    data_window,
    reference_dates,
)
from retain.models.churn.reasons import Reason, reason_codes, reasons_json
from retain.models.churn.registry import (
    ModelCard,
    RegisteredModel,
    list_models,
    load_model,
    save_model,
)
from retain.models.churn.scoring import ScoreResult, risk_band, score_customers, score_frame
from retain.models.churn.training import RISK_BANDS, TrainedModel, feature_columns, train_model

__all__ = [
    "BASELINES",
    "RISK_BANDS",
    "Backtest",
    "ChurnClassifier",
    "DataWindow",
    "ModelCard",
    "Reason",
    "RegisteredModel",
    "ScoreResult",
    "TrainedModel",
    "add_p_alive",
    "backtest",
    "build_panel",
    "calibration_table",
    "data_window",
    "drift_report",
    "evaluation_metrics",
    "feature_columns",
    "lift_table",
    "list_models",
    "load_model",
    "logistic_baseline",
    "psi",
    "reason_codes",
    "reasons_json",
    "reference_dates",
    "reference_profile",
    "repeated_cv",
    "risk_band",
    "save_model",
    "score_customers",
    "score_frame",
    "train_model",
]
