"""The backtest's baselines: the logistic regression and the recency rule a team builds first.

:func:`logistic_baseline` is the pipeline the ``logistic`` baseline fits (its transformation is
the one :class:`~retain.models.churn._linear.LinearBase` reproduces with exact contributions for
the ``logistic`` candidate); :class:`_RecencyRule` turns days since the last activity into a
probability. :mod:`retain.models.churn.backtest` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

__all__ = ["logistic_baseline"]


def logistic_baseline(categorical: Sequence[str], numeric: Sequence[str]) -> Pipeline:
    """Logistic regression on the same features: the baseline a data team would build first."""
    num = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        FunctionTransformer(np.arcsinh),
        StandardScaler(),
    )
    cat = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)", keep_empty_features=True),
        OneHotEncoder(handle_unknown="ignore", min_frequency=20),
    )
    pre = ColumnTransformer([("num", num, list(numeric)), ("cat", cat, list(categorical))])
    return Pipeline([("pre", pre), ("lr", LogisticRegression(C=0.5, max_iter=3000))])


def _split_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    cats = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    nums = [c for c in frame.columns if c not in cats]
    return cats, nums


def _as_object(frame: pd.DataFrame, cats: Sequence[str]) -> pd.DataFrame:
    out = frame.copy()
    for c in cats:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _recency_column(frame: pd.DataFrame) -> str | None:
    for name in ("days_since_last_order", "days_since_last_event"):
        if name in frame.columns and frame[name].notna().any():
            return name
    return None


class _RecencyRule:
    """Days since last activity -> churn probability, by isotonic regression on training rows."""

    def __init__(self, column: str) -> None:
        self.column = column

    def _x(self, frame: pd.DataFrame) -> np.ndarray:
        x = frame[self.column].to_numpy(dtype=float)
        return np.where(np.isnan(x), self.fill_, x)

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> _RecencyRule:
        x = frame[self.column].to_numpy(dtype=float)
        self.fill_ = float(np.nanmax(x)) + 1.0 if np.isfinite(x).any() else 0.0
        self.iso_ = IsotonicRegression(out_of_bounds="clip", increasing=True)
        self.iso_.fit(self._x(frame), y)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.iso_.predict(self._x(frame)), dtype=float)
