"""Churn risk: the classifier, its backtest by time, per-customer reasons, registry and scoring.

The usual path is ``train_model`` (panel of monthly reference dates -> backtest against the
baselines -> final fit -> model card), ``save_model`` into ``settings.models_dir``, then
``score_customers`` into the ``churn_scores`` table; ``retain churn train|evaluate|score`` runs
exactly these.

Names are imported on first use, so reading stored reasons does not load LightGBM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retain.lazy import lazy_package

if TYPE_CHECKING:
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

_HOMES = {
    "BASELINES": "retain.models.churn.backtest",
    "Backtest": "retain.models.churn.backtest",
    "ChurnClassifier": "retain.models.churn.classifier",
    "DataWindow": "retain.models.churn.panel",
    "ModelCard": "retain.models.churn.registry",
    "RISK_BANDS": "retain.models.churn.training",
    "Reason": "retain.models.churn.reasons",
    "RegisteredModel": "retain.models.churn.registry",
    "ScoreResult": "retain.models.churn.scoring",
    "TrainedModel": "retain.models.churn.training",
    "add_p_alive": "retain.models.churn.panel",
    "backtest": "retain.models.churn.backtest",
    "build_panel": "retain.models.churn.panel",
    "calibration_table": "retain.models.churn.backtest",
    "data_window": "retain.models.churn.panel",
    "drift_report": "retain.models.churn.drift",
    "evaluation_metrics": "retain.models.churn.backtest",
    "feature_columns": "retain.models.churn.training",
    "lift_table": "retain.models.churn.backtest",
    "list_models": "retain.models.churn.registry",
    "load_model": "retain.models.churn.registry",
    "logistic_baseline": "retain.models.churn.backtest",
    "psi": "retain.models.churn.drift",
    "reason_codes": "retain.models.churn.reasons",
    "reasons_json": "retain.models.churn.reasons",
    "reference_dates": "retain.models.churn.panel",
    "reference_profile": "retain.models.churn.drift",
    "repeated_cv": "retain.models.churn.backtest",
    "risk_band": "retain.models.churn.scoring",
    "save_model": "retain.models.churn.registry",
    "score_customers": "retain.models.churn.scoring",
    "score_frame": "retain.models.churn.scoring",
    "train_model": "retain.models.churn.training",
}


lazy_package(__name__, _HOMES)
