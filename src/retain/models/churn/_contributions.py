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
from numba import njit

from retain.models.churn._inputs import feature_matrix
from retain.models.churn._treeshap import ensemble_of

if TYPE_CHECKING:
    from retain.models.churn.classifier import ChurnClassifier

__all__ = ["compile_trees", "contributions_of", "grouped", "tree_contributions"]


def _n_iter(booster: Any) -> int:
    """Trees the model uses: the best iteration when early stopping set one, else all."""
    best = int(booster.best_iteration)
    return best if best > 0 else int(booster.current_iteration())


def grouped(contrib: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Per-feature contributions summed into the columns ``groups`` names (bias kept last)."""
    if groups is None:
        return contrib
    groups = np.asarray(groups, dtype=np.int64)
    width = int(groups.max()) + 1 if len(groups) else 0
    out = np.zeros((contrib.shape[0], width + 1))
    _grouped(np.asarray(contrib, dtype=np.float64), groups, out)
    return out


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _grouped(contrib: np.ndarray, groups: np.ndarray, out: np.ndarray) -> None:
    """Row by row, each feature added into its group in feature order from 0; the bias last.

    The same additions in the same order as adding whole columns (``out[:, g] +=
    contrib[:, j]`` for each ``j``), so the same floats, without a strided pass per column.
    """
    width = out.shape[1] - 1
    last = contrib.shape[1] - 1
    for i in range(contrib.shape[0]):
        for j in range(groups.shape[0]):
            out[i, groups[j]] += contrib[i, j]
        out[i, width] = contrib[i, last]


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
    if not len(X):
        return None
    return tree_contributions(model, feature_matrix(model, X), groups)


def tree_contributions(
    model: ChurnClassifier, x: np.ndarray, groups: np.ndarray | None
) -> np.ndarray | None:
    """:func:`contributions_of` on the feature matrix ``x`` (``feature_matrix(model, X)``).

    Callers that already hold the matrix (the champion, whose parts read the same one) pass
    it instead of the frame, so it is built once.
    """
    booster = model.booster_
    ensemble = ensemble_of(booster, _n_iter(booster)) if len(x) else None
    if ensemble is None or ensemble.n_features != x.shape[1]:
        return None
    linear = getattr(model, "linear_", None)
    if linear is not None:  # per feature first: the linear base's terms add to the trees'
        contrib = ensemble.contributions(x)
        linear.add_contributions(x, None, 1.0, contrib)
        return grouped(contrib, groups)
    out: np.ndarray = ensemble.contributions(x, groups)
    return out
