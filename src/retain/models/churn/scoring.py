"""Batch scoring: calibrated churn probability, risk band and reasons for every customer at risk.

:func:`score_frame` scores a feature frame in chunks: exact contributions (TreeSHAP computed by
:func:`predict_with_contributions` once per distinct branch pattern of each tree, plus the
linear base's terms) give both the probability and the reasons, which are worded for the whole
chunk at once (:func:`~retain.models.churn.reasons.reasons_json_array`);
:func:`score_customers` builds the features from the warehouse at ``as_of``, scores them,
writes the ``churn_scores`` table and reports drift against the model's training data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from retain.config import ChurnDefinition
from retain.errors import DataValidationError, InvalidParameterError, Violation
from retain.facts import DateLike, as_timestamp
from retain.features import feature_snapshot
from retain.features.attributes import AttributeFeature
from retain.features.sources import SourceLike, Sources
from retain.i18n import t
from retain.models.churn.drift import drift_report
from retain.models.churn.panel import add_p_alive, data_window
from retain.models.churn.reasons import family_groups, reasons_json_array
from retain.models.churn.registry import RegisteredModel, feature_schema_hash
from retain.schema import get_table
from retain.warehouse import replace_scope

__all__ = [
    "CHURN_RUN",
    "REASON_FLOOR",
    "ScoreResult",
    "predict_with_contributions",
    "risk_band",
    "score_customers",
    "score_frame",
    "scoring_frame",
]


CHURN_RUN = ("as_of", "definition", "model_version")
"""A scoring run of ``churn_scores``: writing it again replaces exactly its rows."""


@dataclass
class ScoreResult:
    """Scores (the ``churn_scores`` rows) and the drift report of one scoring run."""

    scores: pd.DataFrame
    drift: pd.DataFrame
    as_of: pd.Timestamp
    model_version: str


def risk_band(probability: np.ndarray, bands: dict[str, float]) -> np.ndarray:
    """``high`` / ``medium`` / ``low`` from the thresholds in the model card."""
    p = np.asarray(probability, dtype=float)
    out = np.full(p.shape, "low", dtype=object)
    out[p >= bands.get("medium", np.inf)] = "medium"
    out[p >= bands.get("high", np.inf)] = "high"
    return out


def predict_with_contributions(
    model: Any, X: pd.DataFrame, *, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated P(churn) and exact contributions, by the compiled TreeSHAP when it applies.

    :meth:`ChurnClassifier.predict_with_contributions` with ``compiled=True``: the values of
    LightGBM's ``pred_contrib`` up to the order of floating-point additions (~1e-15), much
    faster in batches. With ``groups`` the contributions come summed per family.
    """
    p, contrib = model.predict_with_contributions(X, groups=groups, compiled=True)
    return np.asarray(p), np.asarray(contrib)


REASON_FLOOR = 0.05
"""Log-odds a family must add to a customer's score to be given as a reason (about one
percentage point of risk near 50%). Below it a "reason" is noise: on CDNOW 2,967 customers had a
P(alive) sentence as their only reason, from a median 0.009 log-odds, while their risk came from
the base rate."""


def _check_floor(value: Any, caller: str) -> None:
    """``min_contribution`` must be a finite number of at least 0 (not a bool)."""
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    if not (number and np.isfinite(value) and value >= 0):
        raise InvalidParameterError(
            t(
                "churn.param_invalid",
                name="min_contribution",
                estimator=caller,
                allowed="a finite number of at least 0",
                value=repr(value),
            )
        )


def score_frame(
    registered: RegisteredModel,
    features: pd.DataFrame,
    *,
    top: int = 3,
    min_contribution: float = REASON_FLOOR,
    chunk_rows: int = 100_000,
    workers: int = 2,
    on_chunk: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Probability, risk band and reasons (JSON) for each row of ``features``.

    ``features`` holds the model's feature columns (others are ignored) and, optionally,
    ``customer_id``. Returns ``customer_id`` (when given), ``probability``, ``risk_band`` and
    ``reasons`` (JSON text in an Arrow-backed string column): up to ``top`` families, each
    adding more than ``min_contribution`` log-odds (:data:`REASON_FLOOR`). Chunks of at most
    ``chunk_rows`` rows are scored on up to ``workers`` threads (capped at the CPU count); the
    result does not depend on either.
    """
    names = [f["name"] for f in registered.card["features"]]
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise DataValidationError(
            [
                Violation(
                    rule="missing_feature",
                    message=t("churn.feature_missing", name=n),
                    column=n,
                    hint=t("churn.feature_missing_hint"),
                )
                for n in missing
            ]
        )
    _check_floor(min_contribution, "score_frame")
    for name, value in (("chunk_rows", chunk_rows), ("workers", workers)):
        if value < 1:
            raise InvalidParameterError(
                t(
                    "churn.param_invalid",
                    name=name,
                    estimator="score_frame",
                    allowed="an integer of at least 1",
                    value=repr(value),
                )
            )
    X = features[names]
    # Chunks are scored on up to ``workers`` threads: the compiled TreeSHAP and Arrow's string
    # kernels release the GIL, so two cores roughly halve the time of a large batch. Small
    # batches are split in two so that both threads have work.
    workers = min(workers, os.cpu_count() or 1)
    size = max(1, min(chunk_rows, -(-len(X) // workers)))
    starts = list(range(0, len(X), size))
    if len(starts) > 1 and hasattr(registered.model, "compile_trees"):
        registered.model.compile_trees()  # build the flat trees once, not per thread

    # TreeSHAP summed per family where the reasons only need the family's sum.
    groups = family_groups(names)
    # Reasons name a customer attribute by its key as written, not by its column.
    labels = {a["name"]: a["key"] for a in registered.card.get("attributes", [])}

    def run(start: int) -> tuple[np.ndarray, pa.Array]:
        part = X.iloc[start : start + size]
        p, contrib = predict_with_contributions(registered.model, part, groups=groups)
        text = reasons_json_array(
            contrib,
            part,
            top=top,
            min_contribution=min_contribution,
            groups=groups,
            labels=labels,
        )
        if on_chunk is not None:
            on_chunk(len(part))
        return p, text

    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, starts))
    else:
        results = [run(start) for start in starts]
    probs = [p for p, _ in results]
    probability = np.concatenate(probs) if probs else np.zeros(0)
    # The reasons stay Arrow strings (no Python str per customer); warehouses take them as is.
    texts = [text for _, text in results]
    if len({a.type for a in texts}) > 1:  # a chunk past 2 GiB of text came back large
        texts = [a.cast(pa.large_string()) for a in texts]
    chunked = pa.chunked_array(texts, type=texts[0].type if texts else pa.string())
    reasons = pd.Series(pd.arrays.ArrowExtensionArray(chunked), index=features.index)
    out = pd.DataFrame(
        {
            "probability": probability,
            "risk_band": risk_band(probability, registered.card.get("risk_bands", {})),
            "reasons": reasons,
        },
        index=features.index,
    )
    if "customer_id" in features.columns:
        out.insert(0, "customer_id", features["customer_id"].to_numpy())
    return out


def scoring_frame(
    sources: Sources,
    *,
    as_of: pd.Timestamp,
    definition: ChurnDefinition,
    attributes: list[AttributeFeature],
    p_alive: bool,
) -> pd.DataFrame:
    """The features of every customer at risk at ``as_of``, as scoring builds them.

    Training calls it too, at the date the model will first be scored, so that the drift
    reference describes the very population scoring sees (:mod:`~retain.models.churn.drift`).
    """
    frame: pd.DataFrame = feature_snapshot(
        sources, as_of=as_of, definition=definition, attributes=attributes
    ).to_pandas()
    if p_alive:
        frame, note = add_p_alive(frame, horizon_days=definition.horizon_days)
        if note:
            frame["p_alive"] = np.nan
    return frame


def score_customers(
    con_or_tables: SourceLike,
    registered: RegisteredModel,
    *,
    as_of: DateLike | None = None,
    write: bool = True,
    top: int = 3,
    min_contribution: float = REASON_FLOOR,
    on_chunk: Callable[[int], None] | None = None,
) -> ScoreResult:
    """Score every customer at risk at ``as_of`` (default: the day after the data ends).

    With ``write=True`` and a warehouse connection, the rows replace any earlier scores of the
    same ``(as_of, definition, model_version)`` in ``churn_scores``; the write is atomic.
    """
    _check_floor(min_contribution, "score_customers")  # before the snapshot is built
    card = registered.card
    definition = ChurnDefinition(**card["definition"])
    sources = Sources.of(con_or_tables)
    when = (
        as_timestamp(as_of)
        if as_of is not None
        else data_window(sources).end.normalize() + pd.Timedelta(days=1)
    )
    attributes = [AttributeFeature.from_dict(a) for a in card.get("attributes", [])]
    names = [f["name"] for f in card["features"]]
    frame = scoring_frame(
        sources,
        as_of=when,
        definition=definition,
        attributes=attributes,
        p_alive="p_alive" in names,
    )
    # An all-empty column has no kind of its own (an absent table); drift shows it instead.
    expected = {f["name"]: f["kind"] for f in card["features"]}
    kinds = [
        expected[n]
        if n in frame.columns and frame[n].isna().all()
        else "numeric"
        if n in frame.columns and pd.api.types.is_numeric_dtype(frame[n])
        else "categorical"
        for n in names
    ]
    if feature_schema_hash(names, kinds) != card["feature_schema_hash"]:
        wrong = [n for n, k in zip(names, kinds, strict=True) if expected[n] != k]
        raise DataValidationError(
            [
                Violation(
                    rule="feature_schema",
                    message=t("churn.schema_changed", name=n),
                    column=n,
                    hint=t("churn.schema_changed_hint"),
                )
                for n in wrong
            ]
        )
    scored = score_frame(
        registered, frame, top=top, min_contribution=min_contribution, on_chunk=on_chunk
    )
    scored.insert(1, "as_of", when)
    scored.insert(2, "definition", definition.name)
    scored["model_version"] = registered.version
    scored["scored_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    columns = list(get_table("churn_scores").column_names)
    scored = scored[columns]
    drift = drift_report(card.get("reference", {}), frame, scored["probability"].to_numpy())
    if write and sources.warehouse is not None:
        replace_scope(sources.warehouse, "churn_scores", scored, scope=CHURN_RUN)
    return ScoreResult(scored, drift, when, registered.version)
