"""Drift between training and scoring: population stability index (PSI) per feature and of scores.

At training time :func:`reference_profile` records, for each feature, the bins of its
distribution (deciles for numbers, the most common values for categories, a bin for missing
values) and the same for the model's scores, among the customers the model is first scored on:
the day after the data ends (a snapshot: its own date). Profiling the latest *labelled* date
instead, a horizon earlier, compared customers a horizon younger with those scored, and flagged
tenure on CDNOW (PSI 8.17) for a model scored the day it was trained. At scoring time
:func:`drift_report` puts the new data into the same bins and computes

    PSI = sum_i (new_i - ref_i) * ln(new_i / ref_i)

A PSI under 0.1 is usually read as stable, 0.1-0.25 as worth watching and above 0.25 as a shift
that calls for retraining (Siddiqi 2006, *Credit Risk Scorecards*, ch. 8).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["drift_report", "psi", "reference_profile"]

_EPS = 1e-4
_MISSING = "(missing)"
_OTHER = "(other)"


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI between two vectors of bin shares (each summing to 1)."""
    ref = np.clip(np.asarray(reference, dtype=float), _EPS, None)
    cur = np.clip(np.asarray(current, dtype=float), _EPS, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _numeric_profile(values: pd.Series) -> dict[str, Any]:
    x = values.to_numpy(dtype=float)
    finite = x[~np.isnan(x)]
    edges = (
        np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9))) if len(finite) else np.array([])
    )
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "shares": _numeric_shares(x, edges).tolist(),
    }


def _numeric_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    missing = np.isnan(x)
    bins = np.searchsorted(edges, x[~missing], side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, missing.sum())
    return counts / max(len(x), 1)


def _categorical_profile(values: pd.Series) -> dict[str, Any]:
    s = values.astype(object).where(values.notna(), _MISSING).astype(str)
    top = s.value_counts().index[:20].tolist()
    return {
        "kind": "categorical",
        "categories": top,
        "shares": _categorical_shares(s, top).tolist(),
    }


def _categorical_shares(s: pd.Series, cats: list[str]) -> np.ndarray:
    s = s.astype(object).where(s.notna(), _MISSING).astype(str)
    counts = s.where(s.isin(cats), _OTHER).value_counts()
    out = np.array([counts.get(c, 0) for c in [*cats, _OTHER]], dtype=float)
    return out / max(len(s), 1)


def reference_profile(features: pd.DataFrame, scores: np.ndarray) -> dict[str, Any]:
    """Bins and shares of each feature and of the scores, for later drift checks (JSON-ready)."""
    profile: dict[str, Any] = {}
    for col in features.columns:
        s = features[col]
        numeric = pd.api.types.is_numeric_dtype(s)
        profile[str(col)] = _numeric_profile(s) if numeric else _categorical_profile(s)
    return {"features": profile, "score": _numeric_profile(pd.Series(scores, dtype=float))}


def _current_shares(spec: dict[str, Any], values: pd.Series) -> np.ndarray:
    if spec["kind"] == "numeric":
        return _numeric_shares(
            pd.to_numeric(values, errors="coerce").to_numpy(dtype=float),
            np.asarray(spec["edges"], dtype=float),
        )
    return _categorical_shares(values, list(spec["categories"]))


def _status(value: float) -> str:
    return "stable" if value < 0.1 else ("watch" if value < 0.25 else "shift")


def drift_report(
    reference: dict[str, Any], features: pd.DataFrame, scores: np.ndarray
) -> pd.DataFrame:
    """PSI of every feature and of the score (row ``(score)``), largest first.

    Columns: ``name``, ``psi``, ``status`` (``stable`` < 0.1 <= ``watch`` < 0.25 <= ``shift``).
    """
    rows = []
    for name, spec in reference.get("features", {}).items():
        if name not in features.columns:
            continue
        ref = np.asarray(spec["shares"], dtype=float)
        value = psi(ref, _current_shares(spec, features[name]))
        rows.append({"name": name, "psi": value, "status": _status(value)})
    if "score" in reference:
        spec = reference["score"]
        value = psi(np.asarray(spec["shares"]), _current_shares(spec, pd.Series(scores)))
        rows.append({"name": "(score)", "psi": value, "status": _status(value)})
    out = pd.DataFrame(rows, columns=["name", "psi", "status"])
    return out.sort_values("psi", ascending=False, ignore_index=True)
