"""The classifier's inputs and contributions as batch scoring needs them, fast.

:func:`contributions_of` computes exact contributions with the compiled TreeSHAP of
:mod:`~retain.models.churn._treeshap` (once per distinct branch pattern of each tree), optionally
summed per feature family. :class:`~retain.models.churn.ChurnClassifier` exposes both as public
methods; nothing else calls them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retain.models.churn._inputs import as_matrix, feature_matrix
from retain.models.churn._treeshap import ensemble_of

if TYPE_CHECKING:
    from retain.models.churn.classifier import ChurnClassifier

__all__ = ["compile_trees", "contributions_of", "grouped"]


def _n_iter(booster: Any) -> int:
    """Trees the model uses: the best iteration when early stopping set one, else all."""
    best = int(booster.best_iteration)
    return best if best > 0 else int(booster.current_iteration())


def grouped(contrib: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Per-feature contributions summed into the columns ``groups`` names (bias kept last)."""
    if groups is None:
        return contrib
    width = int(groups.max()) + 1 if len(groups) else 0
    out = np.zeros((contrib.shape[0], width + 1))
    for j, g in enumerate(groups.tolist()):
        out[:, g] += contrib[:, j]
    out[:, width] = contrib[:, -1]
    return out


def compile_trees(model: ChurnClassifier) -> None:
    """Build the model's compiled TreeSHAP trees (cached), so threads do not each build them."""
    booster = getattr(model, "booster_", None)
    if booster is not None:
        ensemble_of(booster, _n_iter(booster))


def contributions_of(
    model: ChurnClassifier, X: pd.DataFrame, groups: np.ndarray | None
) -> np.ndarray | None:
    """Exact contributions to the raw log-odds by the compiled TreeSHAP, or None.

    None when the compiled path cannot read this model (the caller falls back to LightGBM's
    ``pred_contrib``). With ``groups`` the columns come summed per group, bias last.
    """
    booster = model.booster_
    ensemble = ensemble_of(booster, _n_iter(booster)) if len(X) else None
    if ensemble is None or ensemble.n_features != X.shape[1]:
        return None
    if getattr(model, "linear_", None) is not None:  # its terms are computed from the frame
        frame = model.prepare(X)
        contrib = ensemble.contributions(as_matrix(frame))
        return grouped(model.linear_contributions(frame, contrib), groups)
    out: np.ndarray = ensemble.contributions(feature_matrix(model, X), groups)
    return out
