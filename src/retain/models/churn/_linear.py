"""The two small models inside :class:`~retain.models.churn.ChurnClassifier`.

:class:`LinearBase` is the logistic regression the trees boost from; :class:`CenteredIsotonic`
calibrates the raw scores without ties. Both are pickled with every fitted classifier (and
re-exported by :mod:`retain.models.churn.classifier`, where older pickles look for them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

__all__ = ["CenteredIsotonic", "LinearBase"]

_LINEAR_MAX_ROWS = 200_000
"""Rows the linear base is fitted on at most (a random sample beyond): enough for its few
coefficients, and it keeps training time flat on large panels."""
_LINEAR_MIN_FREQUENCY = 20
"""Fewest training rows for a category to get its own coefficient in the linear base."""


class CenteredIsotonic:
    """Centered isotonic regression (Oron & Flournoy, 2017): isotonic calibration without ties.

    Plain isotonic regression maps whole blocks of scores to one value, so customers the model
    ranks apart end up tied, which costs ROC AUC and makes the top of a target list arbitrary.
    Here each block of the isotonic fit is replaced by one point, at the block's mean score and
    value, and the calibration map interpolates linearly between those points: still monotone
    and as faithful to the observed rates, but strictly increasing between the outermost
    blocks (flat, as isotonic, beyond them).
    """

    def fit(self, raw: np.ndarray, y: np.ndarray) -> CenteredIsotonic:
        """Fit on raw scores ``raw`` and 0/1 outcomes ``y``."""
        order = np.argsort(raw, kind="stable")
        x, target = np.asarray(raw, dtype=np.float64)[order], np.asarray(y, dtype=np.float64)[order]
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(x, target)
        starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
        sizes = np.diff(np.r_[starts, len(x)])
        self.x_ = np.add.reduceat(x, starts) / sizes
        self.y_ = fitted[starts]
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the raw scores ``raw``."""
        return np.asarray(np.interp(raw, self.x_, self.y_), dtype=np.float64)


class LinearBase:
    """Logistic regression the trees boost from, with exact per-feature contributions.

    Numeric columns are asinh-transformed (so counts, days and amounts with long tails are on
    a log-like scale), missing values are replaced by the median plus a missing indicator,
    and everything is standardised on the training rows; categorical columns are one-hot with
    categories seen at least :data:`_LINEAR_MIN_FREQUENCY` times (others contribute nothing).
    The contribution of a feature is the sum over its design columns of coefficient times
    (value - training mean); with the bias they add up to the linear log-odds.
    """

    def __init__(self, C: float) -> None:
        self.C = C

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        n = len(frame)
        out = np.zeros((n, len(self.owner_)), dtype=np.float64)
        k = 0
        for j, spec in enumerate(self.specs_):
            if spec[0] == "num":
                _, median, mean, std, has_missing = spec
                x = frame.iloc[:, j].to_numpy(dtype=np.float64)
                nan = np.isnan(x)
                z = np.arcsinh(np.where(nan, median, x))
                out[:, k] = (z - mean) / std
                k += 1
                if has_missing:
                    out[:, k] = nan
                    k += 1
            elif spec[0] == "cat":
                codes = np.asarray(frame.iloc[:, j].cat.codes.to_numpy(), dtype=np.int64)
                for code in spec[1]:
                    out[:, k] = codes == code
                    k += 1
        return out

    def fit(
        self,
        frame: pd.DataFrame,
        y: np.ndarray,
        random_state: int | None,
        sample_weight: np.ndarray | None = None,
    ) -> LinearBase:
        """Learn the transform on ``frame`` and the coefficients on (a sample of) its rows."""
        rows = np.arange(len(frame))
        if len(rows) > _LINEAR_MAX_ROWS:
            rng = np.random.default_rng(random_state)
            rows = np.sort(rng.choice(rows, _LINEAR_MAX_ROWS, replace=False))
        sample = frame.iloc[rows]
        specs: list[tuple[Any, ...]] = []
        owner: list[int] = []
        for j, col in enumerate(sample.columns):
            s = sample[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                counts = np.bincount(
                    np.asarray(s.cat.codes.to_numpy(), dtype=np.int64) + 1,
                    minlength=len(s.cat.categories) + 1,
                )[1:]
                kept = tuple(int(c) for c in np.flatnonzero(counts >= _LINEAR_MIN_FREQUENCY))
                specs.append(("cat", kept))
                owner.extend([j] * len(kept))
                continue
            x = s.to_numpy(dtype=np.float64)
            present = x[~np.isnan(x)]
            if len(np.unique(present)) < 2:
                specs.append(("none",))
                continue
            median = float(np.median(present))
            z = np.arcsinh(np.where(np.isnan(x), median, x))
            std = float(z.std())
            has_missing = bool(np.isnan(x).any())
            specs.append(("num", median, float(z.mean()), std if std > 0 else 1.0, has_missing))
            owner.extend([j] * (2 if has_missing else 1))
        self.specs_ = specs
        self.owner_ = np.asarray(owner, dtype=np.int64)
        self.n_features_ = frame.shape[1]
        design = self._design(sample)
        self.mean_ = design.mean(axis=0) if len(design) else np.zeros(design.shape[1])
        if design.shape[1] == 0 or len(np.unique(y[rows])) < 2:
            self.coef_ = np.zeros(design.shape[1])
            p = float(np.clip(y[rows].mean() if len(rows) else 0.5, 1e-6, 1 - 1e-6))
            self.intercept_ = float(np.log(p / (1 - p)))
            return self
        lr = LogisticRegression(C=self.C, max_iter=2000)
        lr.fit(
            design, y[rows], sample_weight=None if sample_weight is None else sample_weight[rows]
        )
        self.coef_ = np.asarray(lr.coef_[0], dtype=np.float64)
        self.intercept_ = float(lr.intercept_[0])
        return self

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        """The linear log-odds of each row."""
        return np.asarray(self._design(frame) @ self.coef_ + self.intercept_, dtype=np.float64)

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Per-feature contributions plus the bias (last column); rows sum to :meth:`margin`."""
        centred = (self._design(frame) - self.mean_) * self.coef_
        # Sum the design columns of each feature: one-hot "owner" matrix, one product.
        owner = np.zeros((len(self.owner_), self.n_features_ + 1), dtype=np.float64)
        owner[np.arange(len(self.owner_)), self.owner_] = 1.0
        out = centred @ owner
        out[:, -1] = self.intercept_ + float(self.mean_ @ self.coef_)
        return np.asarray(out, dtype=np.float64)
