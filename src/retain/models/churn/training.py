"""Train a churn model from the warehouse: panel, backtest, final fit and model card.

:func:`train_model` is what ``retain churn train`` runs: build the panel of monthly reference
dates, evaluate by time against the baselines (:func:`retain.models.churn.backtest`), fit the
final model on every date, and describe it in a model card ready for the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.facts import as_timestamp
from retain.features import family_of
from retain.features.attributes import AttributeFeature, discover_attributes, outcome_proxies
from retain.features.sources import SourceLike, Sources
from retain.i18n import t
from retain.models.churn._windows import check_label_windows
from retain.models.churn.backtest import BASELINES, Backtest, backtest, repeated_cv
from retain.models.churn.champion import CANDIDATES, ChurnChampion
from retain.models.churn.classifier import ChurnClassifier
from retain.models.churn.drift import reference_profile
from retain.models.churn.panel import build_panel, data_window, reference_dates
from retain.models.churn.registry import (
    ModelCard,
    feature_schema_hash,
    library_versions,
    new_version,
)
from retain.models.churn.scoring import scoring_frame

__all__ = ["RISK_BANDS", "TrainedModel", "feature_columns", "train_model"]

RISK_BANDS = {"high": 0.90, "medium": 0.70}
"""Risk bands by rank at the latest reference date: the top 10% are high, the next 20% medium."""

RISK_BAND_CAPS = {"high": 0.70, "medium": 0.40}
"""Calibrated probabilities at or above these are high / medium whatever their rank.

Where most customers churn (a shop with a 90-day horizon), rank alone put customers with a 97%
probability in the low band, which reads as nonsense; the caps keep the bands honest there while
rank still separates customers where churn is rare (subscriptions).
"""

_NOT_FEATURES = ("customer_id", "as_of", "churned")


@dataclass
class TrainedModel:
    """A fitted model with its card (not yet saved) and its backtest."""

    model: ChurnClassifier | ChurnChampion
    card: ModelCard
    backtest: Backtest | None


def _check_dates(dates: Sequence[Any], window: Any, horizon_days: int) -> None:
    """Refuse reference dates the data cannot label.

    A date before the data begins has no history; one whose horizon runs past the data's end
    would call customers churned for want of data.
    """
    # Data through day D covers label windows ending at midnight after D.
    covered = window.end.normalize() + pd.Timedelta(days=1)
    for value in dates:
        date = as_timestamp(value, name="dates")
        needed = date + pd.Timedelta(days=horizon_days)
        if date <= window.start or needed > covered:
            params: dict[str, Any] = {
                "date": str(date.date()),
                "horizon": horizon_days,
                "start": str(window.start.date()),
                "end": str(window.end.date()),
            }
            raise InvalidParameterError(
                t(
                    "churn.date_outside",
                    needed=str((needed - pd.Timedelta(days=1)).date()),
                    **params,
                ),
                hint=t("churn.date_outside_hint", **params),
            )


def feature_columns(panel: pd.DataFrame) -> list[str]:
    """The panel's feature columns, dropping those with no value at all (absent tables)."""
    return [c for c in panel.columns if c not in _NOT_FEATURES and panel[c].notna().any()]


def _drop_outcome_proxies(
    panel: pd.DataFrame,
    attributes: list[AttributeFeature],
    definition: ChurnDefinition,
    notes: list[str],
) -> tuple[pd.DataFrame, list[AttributeFeature]]:
    """Leave out attributes found by :func:`outcome_proxies` unless the definition lists them."""
    listed = definition.attributes != "auto"
    dropped: set[str] = set()
    for attribute, auc in outcome_proxies(panel, attributes):
        key = "churn.attribute_proxy_kept" if listed else "churn.attribute_proxy"
        notes.append(t(key, key=attribute.key, auc=f"{auc:.3f}"))
        if not listed:
            dropped.add(attribute.name)
    if not dropped:
        return panel, attributes
    kept = [a for a in attributes if a.name not in dropped]
    return panel.drop(columns=sorted(dropped)), kept


def _kind(series: pd.Series) -> str:
    return "numeric" if pd.api.types.is_numeric_dtype(series) else "categorical"


def _params(model: ChurnClassifier | ChurnChampion) -> dict[str, Any]:
    """JSON-ready hyper-parameters; a champion's trees are listed under ``trees.``."""
    out = {k: v for k, v in model.get_params(deep=False).items() if k != "trees"}
    trees = model.trees_ if isinstance(model, ChurnChampion) else None
    if trees is not None:
        out.update({f"trees.{k}": v for k, v in trees.get_params(deep=False).items()})
    return {k: v for k, v in out.items() if not callable(v)}


def _champion_card(result: Backtest | None, chosen: str) -> dict[str, Any]:
    """The card's ``champion``: every candidate's metrics with intervals and why one won."""
    if result is None or not result.champion:
        return {"chosen": chosen, "rule": "not_evaluated", "candidates": []}
    candidates = result.to_dict()["candidates"]
    order = {c: i for i, c in enumerate(CANDIDATES)}
    candidates.sort(key=lambda row: order.get(str(row.get("candidate")), len(order)))
    return {**result.champion, "candidates": candidates}


def _drift_reference(
    sources: Sources,
    model: ChurnClassifier | ChurnChampion,
    *,
    definition: ChurnDefinition,
    attributes: list[AttributeFeature],
    features: list[str],
    latest: pd.DataFrame,
    snapshot: bool,
    origin: pd.Timestamp,
) -> dict[str, Any]:
    """The drift reference: the population the model will be scored on, at its origin.

    The latest labelled date lies a horizon before the data's end, so customers there are
    younger by that horizon than at the scoring date: on CDNOW, whose customers all arrived in
    one quarter, tenure_days then read PSI 8.17 ("shift") for a model scored the day it was
    trained. Profiling the features at the date scoring defaults to (the day after the data
    ends) compares like with like: a fresh model reads stable, and scoring after new data
    arrives measures what changed since training. A ``snapshot`` is scored at its own date,
    so its labelled rows (``latest``) are the reference; so are they when no customer is at
    risk at the ``origin``.
    """
    frame, as_of = latest, pd.Timestamp(latest["as_of"].iloc[0])
    if not snapshot:
        current = scoring_frame(
            sources,
            as_of=origin,
            definition=definition,
            attributes=attributes,
            p_alive="p_alive" in features,
        )
        if len(current):
            frame, as_of = current, origin
    scores = model.predict_proba(frame[features])[:, 1]
    return {**reference_profile(frame[features], scores), "as_of": as_of.date().isoformat()}


def train_model(
    con_or_tables: SourceLike,
    *,
    definition: ChurnDefinition,
    estimator: ChurnClassifier | None = None,
    dates: Sequence[Any] | None = None,
    freq: str = "MS",
    min_history_days: int = 90,
    test_origins: int = 3,
    baselines: Sequence[str] = BASELINES,
    evaluate: bool = True,
    candidates: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> TrainedModel:
    """Build the panel, backtest, fit the final model on all dates, and write its card.

    Parameters
    ----------
    con_or_tables
        The warehouse, or a mapping of canonical tables.
    definition
        The business line's churn definition.
    estimator
        The classifier to train (default: ``ChurnClassifier(random_state=0)``).
    dates
        Reference dates; default: every ``freq`` (month starts) from ``min_history_days`` after
        the data begins to the last date whose label window the data covers. A single date is
        a *snapshot* (data exported at one moment, every churn at one date, e.g. IBM Telco):
        there is no time to split on, so the evaluation is repeated stratified 5-fold
        cross-validation (:func:`repeated_cv`, logistic regression as the baseline) and the
        model's early-stopping and calibration slices are random.
    test_origins, baselines
        Passed to :func:`retain.models.churn.backtest`; ``evaluate=False`` skips the backtest.
    candidates
        Evaluate the trees, the logistic regression and their average on the same protocol
        and ship the champion by ``definition.champion_metric``
        (:mod:`~retain.models.churn.champion`); ``False`` (or no evaluation) ships the trees.
    on_step
        Called with a short description of each step (progress display).
    """
    step = on_step or (lambda _msg: None)
    started = time.perf_counter()
    sources = Sources.of(con_or_tables)
    window = data_window(sources)
    if dates is None:
        dates = reference_dates(
            window,
            horizon_days=definition.horizon_days,
            freq=freq,
            min_history_days=min_history_days,
        )
    else:
        _check_dates(dates, window, definition.horizon_days)
    estimator = estimator if estimator is not None else ChurnClassifier(random_state=0)
    step("label windows")
    check_label_windows(sources, definition, dates, data_end=window.end)
    step("panel")
    attributes, notes = discover_attributes(
        sources.customers,
        include=definition.attributes,
        exclude=definition.exclude_attributes,
    )
    panel, panel_notes = build_panel(
        sources,
        definition=definition,
        dates=dates,
        attributes=attributes,
        on_date=lambda d: step(f"snapshot {d.date()}"),
    )
    notes.extend(panel_notes)
    panel, attributes = _drop_outcome_proxies(panel, attributes, definition, notes)
    features = feature_columns(panel)
    attributes = [a for a in attributes if a.name in features]
    result: Backtest | None = None
    snapshot = panel["as_of"].nunique() == 1
    if evaluate and snapshot:
        step("cross-validation")
        result = repeated_cv(
            panel[features],
            panel["churned"],
            estimator=estimator,
            baselines=[b for b in baselines if b == "logistic"],
            n_bootstrap=200,
            candidates=candidates,
            champion_metric=definition.champion_metric,
        )
        notes.extend(result.notes)
    elif evaluate:
        step("backtest")
        result = backtest(
            panel[["customer_id", "as_of", *features, "churned"]],
            horizon_days=definition.horizon_days,
            estimator=estimator,
            baselines=baselines,
            test_origins=test_origins,
            candidates=candidates,
            champion_metric=definition.champion_metric,
        )
        notes.extend(result.notes)
    step("fit")
    chosen = result.champion.get("chosen", "trees") if result is not None else "trees"
    model: ChurnClassifier | ChurnChampion = (
        clone(estimator)
        if chosen == "trees"
        else ChurnChampion(candidate=chosen, trees=estimator, random_state=0)
    )
    model.fit(panel[features], panel["churned"], time=None if snapshot else panel["as_of"])
    latest = panel[panel["as_of"] == panel["as_of"].max()]
    scores = model.predict_proba(latest[features])[:, 1]
    bands = {
        name: min(float(np.quantile(scores, q)), RISK_BAND_CAPS[name])
        for name, q in RISK_BANDS.items()
    }
    kinds = [_kind(panel[c]) for c in features]
    step("drift reference")
    reference = _drift_reference(
        sources,
        model,
        definition=definition,
        attributes=attributes,
        features=features,
        latest=latest,
        snapshot=snapshot,
        origin=window.end.normalize() + pd.Timedelta(days=1),
    )
    card: ModelCard = {
        "version": new_version(),
        "kind": "churn",
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "definition": definition.model_dump(),
        "data_window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "reference_dates": [
            pd.Timestamp(d).date().isoformat() for d in sorted(panel["as_of"].unique())
        ],
        "n_rows": len(panel),
        "n_customers_latest": len(latest),
        "churn_rate": float(panel["churned"].mean()),
        "features": [
            {"name": c, "family": family_of(c), "kind": k}
            for c, k in zip(features, kinds, strict=True)
        ],
        "feature_schema_hash": feature_schema_hash(features, kinds),
        "attributes": [a.to_dict() for a in attributes],
        "model": {
            "class": type(model).__name__,
            "candidate": chosen,
            "params": _params(model),
            "best_iteration": model.best_iteration_,
            "calibration": model.calibration_,
            "n_train": model.n_train_,
            "n_validation": model.n_validation_,
            "n_calibration": model.n_calibration_,
        },
        "risk_bands": bands,
        "backtest": result.to_dict() if result is not None else None,
        "champion": _champion_card(result, chosen),
        "notes": notes,
        "training_seconds": round(time.perf_counter() - started, 2),
        "libraries": library_versions(),
        "reference": reference,
    }
    return TrainedModel(model, card, result)
