"""The learners' inputs checked once: features encoded for LightGBM, arms coded, outcomes typed.

Features follow the churn classifier's convention: numeric columns become float64, every other
column a pandas categorical with the categories fixed at fit (unseen ones become missing), so
LightGBM splits on them natively. Arms are names; ``control`` names the holdout, and a 0/1 array
is read as control / ``"treatment"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array

from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = [
    "TREATED",
    "Arms",
    "Encoding",
    "arm_index",
    "binary_outcome",
    "code_arms",
    "encode",
    "fit_encoding",
    "outcome",
]

TREATED = "treatment"
"""The arm name given to 1 when ``treatment`` is a 0/1 array."""


@dataclass(frozen=True)
class Encoding:
    """Feature names in order and, per categorical column, its categories seen at fit."""

    names: tuple[str, ...]
    categories: dict[str, list[str]]
    named: bool
    """Whether the learner was fitted on a DataFrame (names must then match)."""


def fit_encoding(X: Any) -> Encoding:
    """The encoding of ``X``: its column names and the categories of its non-numeric columns."""
    if isinstance(X, pd.DataFrame):
        names = tuple(str(c) for c in X.columns)
        cats: dict[str, list[str]] = {}
        for name, col in zip(names, X.columns, strict=True):
            s = X[col]
            if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
                cats[name] = sorted({str(v) for v in s.dropna().unique()})
        return Encoding(names=names, categories=cats, named=True)
    arr = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
    return Encoding(names=tuple(f"x{i}" for i in range(arr.shape[1])), categories={}, named=False)


def encode(X: Any, encoding: Encoding) -> pd.DataFrame:
    """``X`` as LightGBM reads it: float64 and categorical columns, in the fitted order."""
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if encoding.named and names != list(encoding.names):
            missing = [n for n in encoding.names if n not in names]
            extra = [n for n in names if n not in encoding.names]
            raise InvalidParameterError(
                t(
                    "uplift.columns_differ",
                    missing=", ".join(missing[:5]) or "-",
                    extra=", ".join(extra[:5]) or "-",
                ),
                hint=t("uplift.columns_hint"),
            )
        out: dict[str, Any] = {}
        for name, col in zip(encoding.names, X.columns, strict=True):
            s = X[col]
            if name in encoding.categories:
                values = s.astype("string").astype(object)
                out[name] = pd.Categorical(values, categories=encoding.categories[name])
            else:
                out[name] = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
        return pd.DataFrame(out, index=pd.RangeIndex(len(X)))
    arr = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
    if arr.shape[1] != len(encoding.names):
        raise InvalidParameterError(
            t("uplift.n_features", got=arr.shape[1], expected=len(encoding.names)),
            hint=t("uplift.columns_hint"),
        )
    return pd.DataFrame(arr, columns=list(encoding.names))


@dataclass(frozen=True)
class Arms:
    """Each row's arm as a code (0 = control, ``k`` = ``names[k - 1]``) and the arm names."""

    codes: np.ndarray
    names: tuple[str, ...]


def code_arms(treatment: Any, control: str, n_rows: int) -> Arms:
    """Code ``treatment`` (arm names, or 0/1) against ``control``; arms sorted by name.

    Raises :class:`InvalidParameterError` when the lengths differ, when no row is in the
    control arm, or when no row is in any other arm.
    """
    values = np.asarray(treatment)
    if values.ndim != 1 or values.shape[0] != n_rows:
        raise InvalidParameterError(
            t("uplift.treatment_length", got=values.shape[0] if values.ndim else 0, rows=n_rows),
            hint=t("uplift.treatment_hint", control=control),
        )
    if values.dtype.kind in "biuf" and set(np.unique(values).tolist()) <= {0, 1}:
        labels = np.where(values.astype(np.int64) == 1, TREATED, control).astype(object)
    else:
        labels = values.astype(str).astype(object)
    found = sorted(set(labels.tolist()))
    arms = tuple(a for a in found if a != control)
    if control not in found or not arms:
        raise InvalidParameterError(
            t("uplift.arms_missing", control=control, found=", ".join(found[:6]) or "-"),
            hint=t("uplift.treatment_hint", control=control),
        )
    lookup = {name: k + 1 for k, name in enumerate(arms)}
    lookup[control] = 0
    codes = np.fromiter((lookup[v] for v in labels), dtype=np.int64, count=n_rows)
    return Arms(codes=codes, names=arms)


def outcome(y: Any, n_rows: int) -> np.ndarray:
    """``y`` as a finite float64 vector of ``n_rows`` values."""
    arr = np.asarray(y, dtype=np.float64).ravel()
    if arr.shape[0] != n_rows or not np.isfinite(arr).all():
        raise InvalidParameterError(
            t("uplift.outcome_invalid", got=arr.shape[0], rows=n_rows),
            hint=t("uplift.outcome_hint"),
        )
    return arr


def binary_outcome(y: np.ndarray) -> bool:
    """Whether every value of ``y`` is 0 or 1."""
    return bool(np.isin(y, (0.0, 1.0)).all())


def arm_index(names: Sequence[str], arm: str) -> int:
    """Position of ``arm`` among ``names``; an unknown arm raises with the known ones."""
    if arm not in names:
        raise InvalidParameterError(
            t("uplift.unknown_arm", arm=arm, known=", ".join(names)),
            hint=t("uplift.unknown_arm_hint"),
        )
    return list(names).index(arm)
