"""The classifier's inputs: frames checked and encoded the way the trees see them.

:func:`encode_frame` turns a frame (or array) into float64 numeric and categorical columns, with
the categories fixed at fit; :func:`feature_matrix` builds the float matrix LightGBM reads
straight from a frame, without the prepared copy, for batch scoring. The classifier's methods
(``prepare``, ``check_names``, ``numeric``, ``feature_matrix``) call these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array

from retain.errors import InvalidParameterError
from retain.i18n import t

if TYPE_CHECKING:
    from retain.models.churn.classifier import ChurnClassifier

__all__ = ["as_matrix", "check_names", "encode_frame", "feature_matrix", "numeric"]


def encode_frame(model: ChurnClassifier, X: Any, *, fitting: bool) -> pd.DataFrame:
    """``X`` as a DataFrame of float64 numeric and categorical columns, checked."""
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        frame = X.copy()
        frame.columns = names
        if fitting:
            model.feature_names_in_ = np.asarray(names, dtype=object)
            model.n_features_in_ = len(names)
            model.categories_ = {}
            for col in names:
                s = frame[col]
                if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
                    cats = sorted({str(v) for v in s.dropna().unique()})
                    model.categories_[col] = cats
        else:
            check_names(model, names)
        out: dict[str, Any] = {}
        for col in names:
            if col in model.categories_:
                values = frame[col].astype("string").astype(object)
                out[col] = pd.Categorical(values, categories=model.categories_[col])
            else:
                out[col] = numeric(frame[col], col)
        return pd.DataFrame(out, index=frame.index)
    if fitting and hasattr(model, "feature_names_in_"):
        del model.feature_names_in_
    arr = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
    if fitting:
        model.n_features_in_ = arr.shape[1]
        model.categories_ = {}
    elif arr.shape[1] != model.n_features_in_:
        raise InvalidParameterError(
            t("churn.n_features", got=arr.shape[1], expected=model.n_features_in_),
            hint=t("churn.n_features_hint"),
        )
    elif hasattr(model, "feature_names_in_"):
        raise InvalidParameterError(t("churn.names_expected"), hint=t("churn.n_features_hint"))
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def check_names(model: ChurnClassifier, names: list[str]) -> None:
    """Raise unless ``names`` are the fitted feature names, in order."""
    expected = list(getattr(model, "feature_names_in_", []))
    if names != expected:
        missing = [n for n in expected if n not in names]
        extra = [n for n in names if n not in expected]
        raise InvalidParameterError(
            t(
                "churn.columns_differ",
                missing=", ".join(missing[:5]) or "-",
                extra=", ".join(extra[:5]) or "-",
            ),
            hint=t("churn.n_features_hint"),
        )


def numeric(series: pd.Series, name: str) -> np.ndarray:
    """``series`` as float64, or the classifier's error naming column ``name``."""
    try:
        values = pd.to_numeric(series, errors="raise").astype("float64").to_numpy()
    except (ValueError, TypeError) as exc:
        raise InvalidParameterError(
            t("churn.not_numeric", column=name), hint=t("churn.not_numeric_hint")
        ) from exc
    if np.isinf(values).any():
        raise InvalidParameterError(
            t("churn.infinite", column=name), hint=t("churn.not_numeric_hint")
        )
    return values


def as_matrix(frame: pd.DataFrame) -> np.ndarray:
    """A prepared frame as LightGBM sees it: float64, categoricals as codes (NaN if none)."""
    out = np.empty(frame.shape, dtype=np.float64, order="F")
    for j, col in enumerate(frame.columns):
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            out[:, j] = codes
        else:
            out[:, j] = s.to_numpy(dtype=np.float64)
    return out


def feature_matrix(model: ChurnClassifier, X: pd.DataFrame) -> np.ndarray:
    """``as_matrix(model.prepare(X))``, checked the same way, without building the frame.

    Batch scoring spent as long preparing a 100k-row frame (a copy of every column, then
    categoricals rebuilt from strings) as wording the reasons. Float, integer and boolean
    columns are copied straight into the matrix; text columns whose values are all ``str``
    are looked up in the categories seen at fit. Anything else goes the classifier's own way,
    which also raises its errors.
    """
    model.check_fitted()
    names = [str(c) for c in X.columns]
    model.check_names(names)
    out = np.empty(X.shape, dtype=np.float64, order="F")
    for j, name in enumerate(names):
        s = X.iloc[:, j]
        cats = model.categories_.get(name)
        if cats is not None:
            if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in (
                "string",
                "empty",
            ):
                codes = pd.Index(cats, dtype=object).get_indexer(s.to_numpy())
            else:
                codes = pd.Categorical(s.astype("string").astype(object), categories=cats).codes
            column = np.asarray(codes, dtype=np.float64)
            column[np.asarray(codes) < 0] = np.nan
            out[:, j] = column
        elif isinstance(s.dtype, np.dtype) and s.dtype.kind in "fiub":
            out[:, j] = s.to_numpy()
            if s.dtype.kind == "f" and np.isinf(out[:, j]).any():
                model.numeric(s, name)  # raises the classifier's error
        else:
            out[:, j] = model.numeric(s, name)
    return out
