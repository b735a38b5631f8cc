"""The two small models inside :class:`~retain.models.churn.ChurnClassifier`.

:class:`LinearBase` is the logistic regression the trees boost from; :class:`CenteredIsotonic`
calibrates the raw scores without ties. Both are pickled with every fitted classifier (and
re-exported by :mod:`retain.models.churn.classifier`, where older pickles look for them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numba import njit
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

    def add_contributions(
        self, x: np.ndarray, groups: np.ndarray | None, weight: float, out: np.ndarray
    ) -> None:
        """Add ``weight`` times :meth:`contributions`, summed per group, into ``out``, in place.

        ``x`` is the feature matrix as the trees read it (float64, categories as codes, NaN
        for missing: :func:`~retain.models.churn._inputs.feature_matrix`), so batch scoring
        needs no prepared frame; ``groups`` as in
        :func:`~retain.models.churn._contributions.grouped` (``None``: one column per feature),
        bias last. The values are those of ``out + weight * grouped(contributions(frame),
        groups)`` to the last bit: the same operations in the same order, in one compiled pass
        over the rows instead of a design matrix, a product and a loop over columns.
        """
        kind, source, zcol, param, f_start, medians, numeric = self._plan()
        n_features = len(f_start) - 1
        if groups is None:
            groups = np.arange(n_features, dtype=np.int64)
        groups = np.asarray(groups, dtype=np.int64)
        width = int(groups.max()) + 1 if len(groups) else 0
        if out.shape != (x.shape[0], width + 1):
            raise ValueError(f"out has shape {out.shape}, expected {(x.shape[0], width + 1)}")
        # asinh by numpy, as _design computes it (numpy's SIMD asinh may differ from libm's in
        # the last bit), over contiguous blocks of rows that stay in cache.
        x = np.asarray(x, dtype=np.float64)
        columns = np.asarray(numeric, dtype=np.int64)
        bias = self.intercept_ + float(self.mean_ @ self.coef_)
        n = x.shape[0]
        z = np.empty((min(n, _Z_ROWS), len(numeric)), dtype=np.float64, order="F")
        for start in range(0, n, _Z_ROWS):
            if n - start < z.shape[0]:
                z = np.empty((n - start, len(numeric)), dtype=np.float64, order="F")
            _fill_missing(x, start, columns, medians, z)
            np.arcsinh(z, out=z)
            _add_linear(
                x,
                start,
                z,
                kind,
                source,
                zcol,
                param,
                f_start,
                self.mean_,
                self.coef_,
                groups,
                float(weight),
                bias,
                out,
            )

    def _plan(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """The design columns as flat arrays for :func:`_add_linear` (built once, cached).

        Per design column: its kind (0 scaled number, 1 missing indicator, 2 category), the
        feature it reads, its numeric column in ``z`` and its parameters (mean and standard
        deviation of the asinh, or the category code); per feature the first design column;
        the numeric features with their medians.
        """
        cached = getattr(self, "_plan_", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        kind: list[int] = []
        source: list[int] = []
        zcol: list[int] = []
        param: list[tuple[float, float]] = []
        f_start = [0]
        medians: list[float] = []
        numeric: list[int] = []
        for j, spec in enumerate(self.specs_):
            if spec[0] == "num":
                _, median, mean, std, has_missing = spec
                kind.append(0)
                source.append(j)
                zcol.append(len(numeric))
                param.append((mean, std))
                if has_missing:
                    kind.append(1)
                    source.append(j)
                    zcol.append(-1)
                    param.append((0.0, 1.0))
                numeric.append(j)
                medians.append(median)
            elif spec[0] == "cat":
                for code in spec[1]:
                    kind.append(2)
                    source.append(j)
                    zcol.append(-1)
                    param.append((float(code), 1.0))
            f_start.append(len(kind))
        plan = (
            np.asarray(kind, dtype=np.int64),
            np.asarray(source, dtype=np.int64),
            np.asarray(zcol, dtype=np.int64),
            np.asarray(param, dtype=np.float64).reshape(-1, 2),
            np.asarray(f_start, dtype=np.int64),
            np.asarray(medians, dtype=np.float64),
            numeric,
        )
        self._plan_ = plan
        return plan

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the cached plan (it is rebuilt from the fitted attributes)."""
        state = dict(self.__dict__)
        state.pop("_plan_", None)
        return state


_Z_ROWS = 4096
"""Rows whose asinh-scaled numbers are computed together (about 2 MB for 60 columns)."""


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _fill_missing(
    x: np.ndarray, start: int, columns: np.ndarray, medians: np.ndarray, z: np.ndarray
) -> None:
    """``z[r, c] = x[start + r, columns[c]]``, missing values replaced by ``medians[c]``."""
    for c in range(columns.shape[0]):
        j, median = columns[c], medians[c]
        for r in range(z.shape[0]):
            v = x[start + r, j]
            z[r, c] = median if np.isnan(v) else v


_ROWS = 256
"""Rows :func:`_add_linear` works on together: a column of the block is contiguous in ``x``."""


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _add_linear(
    x: np.ndarray,
    first: int,
    z: np.ndarray,
    kind: np.ndarray,
    source: np.ndarray,
    zcol: np.ndarray,
    param: np.ndarray,
    f_start: np.ndarray,
    mean: np.ndarray,
    coef: np.ndarray,
    groups: np.ndarray,
    weight: float,
    bias: float,
    out: np.ndarray,
) -> None:
    """``out[i] += weight * (row i's linear contributions, summed per group)``, rows from ``first``.

    ``z`` holds the asinh-scaled numbers of the rows from ``first`` on (as many rows as it has).
    The order of operations is :meth:`LinearBase.contributions` followed by ``grouped``'s:
    each design value centred and scaled by its coefficient, a feature's terms added in
    design order from 0 (the product with the 0/1 owner matrix), the features added into
    their group in feature order from 0; the bias last. Blocks of rows, column by column
    within a block (``x`` and ``z`` are column-major).
    """
    n = z.shape[0]
    n_features = f_start.shape[0] - 1
    width = out.shape[1] - 1
    acc = np.zeros((width, _ROWS))
    s = np.zeros(_ROWS)
    for block in range(0, n, _ROWS):
        m = min(block + _ROWS, n) - block
        start = first + block
        acc[:, :m] = 0.0
        for f in range(n_features):
            s[:m] = 0.0
            for k in range(f_start[f], f_start[f + 1]):
                code = kind[k]
                mu, beta = mean[k], coef[k]
                if code == 0:
                    c, a, b = zcol[k], param[k, 0], param[k, 1]
                    for r in range(m):
                        s[r] += ((z[block + r, c] - a) / b - mu) * beta
                elif code == 1:
                    j = source[k]
                    for r in range(m):
                        d = 1.0 if np.isnan(x[start + r, j]) else 0.0
                        s[r] += (d - mu) * beta
                else:
                    j, a = source[k], param[k, 0]
                    for r in range(m):
                        d = 1.0 if x[start + r, j] == a else 0.0
                        s[r] += (d - mu) * beta
            g = groups[f]
            for r in range(m):
                acc[g, r] += s[r]
        for r in range(m):
            i = start + r
            for g in range(width):
                out[i, g] += weight * acc[g, r]
            out[i, width] += weight * bias
