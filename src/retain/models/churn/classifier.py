"""ChurnClassifier: gradient-boosted trees (LightGBM) with early stopping and calibration by time.

Churn data arrive as a panel: the same customers observed at many reference dates (rolling
origins). The classifier splits that panel *by time*: the earliest origins train the trees, a
later slice stops the boosting (early stopping), and a still later slice calibrates the
probabilities (isotonic or Platt), so neither choice peeks at the rows it is judged on. Without
``time`` (one snapshot, e.g. IBM Telco) the two slices are drawn at random, stratified by label.

The trees can boost from a linear base (``linear_base=True``): an L2-regularised logistic regression
on asinh-scaled, standardised features gives every row a starting log-odds, and the trees model
what it misses (interactions, thresholds, non-monotone effects). Much of churn is close to
additive in transformed recency, frequency and tenure, which a linear model captures and
extrapolates beyond the range seen in training, where trees cannot; early stopping on a later
slice decides how much the trees add. Both parts decompose exactly per feature (coefficient
times centred value, and TreeSHAP), so reasons cover the whole score.

Class imbalance is handled without distorting probabilities: the trees are trained on the plain
log-loss by default (``class_weight=None``); with ``class_weight="balanced"`` the trees see
re-weighted classes, and the calibration slice, which is never re-weighted, maps their scores
back to honest probabilities.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from retain.errors import InvalidParameterError, NotFittedError
from retain.i18n import t
from retain.models._base import Interval, Options, RetainEstimator
from retain.models.churn._contributions import compile_trees, contributions_of, grouped
from retain.models.churn._inputs import check_names, encode_frame, feature_matrix, numeric
from retain.models.churn._linear import CenteredIsotonic, LinearBase

__all__ = ["CenteredIsotonic", "ChurnClassifier", "LinearBase"]

_MIN_SLICE = 40
"""Rows below which a validation or calibration slice is too small to use."""


class _Type:
    """A parameter constraint: any instance of ``kind``."""

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, self.kind)

    def __str__(self) -> str:
        return f"a {self.kind.__name__}"


class ChurnNotFittedError(NotFittedError, SklearnNotFittedError):  # type: ignore[misc]
    """retain's not-fitted error that scikit-learn's tools also recognise."""


class ChurnClassifier(ClassifierMixin, RetainEstimator):  # type: ignore[misc]
    """Calibrated churn classifier: LightGBM trees, early stopping and calibration on later slices.

    Parameters
    ----------
    n_estimators : int, default=600
        Most boosting rounds; early stopping usually ends sooner.
    learning_rate : float, default=0.03
    num_leaves : int, default=15
    min_child_samples : int, default=40
        Fewest rows in a leaf; larger values make smoother, better-calibrated trees.
    subsample : float, default=0.8
        Share of rows drawn for each tree (bagging).
    colsample_bytree : float, default=0.8
        Share of features drawn for each tree.
    reg_lambda : float, default=1.0
        L2 penalty on leaf values.
    early_stopping_rounds : int, default=50
        Stop when the validation log-loss has not improved for this many rounds.
    validation_fraction : float, default=0.15
        Share of the data (of the origins, with ``time``) used for early stopping.
    calibration : {"auto", "isotonic", "sigmoid", None}, default="auto"
        How probabilities are calibrated on the calibration slice: isotonic regression
        (centered, so it keeps the model's ranking: :class:`CenteredIsotonic`), Platt's
        sigmoid, or not at all. ``"auto"`` uses isotonic with 1,000 calibration rows or
        more and sigmoid below.
    calibration_fraction : float, default=0.15
        Share of the data (of the origins, with ``time``) used for calibration.
    class_weight : {"balanced", None} or dict, default=None
        Re-weight the classes for the trees only (see the module docstring); a dict maps each
        label to a weight.
    refit : bool or "all", default=True
        After early stopping picks the number of rounds, retrain on training and validation
        rows together with that many rounds. ``"all"`` also retrains on the calibration rows
        once the calibrator is fitted, so the final model has seen the latest reference dates;
        the calibrator, fitted on scores of the previous fit, is kept, which can leave the
        probabilities slightly off (on CDNOW +0.0015 ROC AUC at the same Brier score; with
        ``class_weight="balanced"`` the mean probability drifted by 0.02), hence not the
        default.
    linear_base : bool, default=False
        Boost the trees from a logistic regression on the same features (see the module
        docstring). Worth it on a single snapshot of mostly additive attributes (IBM Telco:
        ROC AUC 0.848 -> 0.851); on behavioural panels plain trees did as well or better
        (CDNOW level, the demo's subscriptions 0.856 vs 0.851) and their reasons follow the
        planted drivers more closely, hence the default.
    linear_C : float, default=0.5
        Inverse L2 strength of the linear base (scikit-learn's ``C``).
    random_state : int or None, default=None
    n_jobs : int, default=1
        LightGBM threads.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels; the second is "churned".
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names when ``X`` was a DataFrame.
    categories_ : dict[str, list[str]]
        For each categorical column, the categories seen in training (others become missing).
    booster_ : lightgbm.Booster
    linear_ : LinearBase or None
        The linear base the trees boost from (``None`` with ``linear_base=False``).
    best_iteration_ : int
        Boosting rounds kept.
    calibration_ : str
        ``"isotonic"``, ``"sigmoid"`` or ``"none"`` (the slice was too small or one-class).
    calibrator_ : CenteredIsotonic, LogisticRegression or None
    feature_importances_ : ndarray
        Total gain of each feature.
    n_train_, n_validation_, n_calibration_ : int
        Rows in each slice.
    """

    _message_area: ClassVar[str] = "churn"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1, None)],
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "num_leaves": [Interval(Integral, 2, None)],
        "min_child_samples": [Interval(Integral, 1, None)],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None)],
        "early_stopping_rounds": [Interval(Integral, 1, None)],
        "validation_fraction": [Interval(Real, 0, 0.5, closed="left")],
        "calibration": [Options(("auto", "isotonic", "sigmoid", None))],
        "calibration_fraction": [Interval(Real, 0, 0.5, closed="left")],
        "class_weight": [Options(("balanced", None)), _Type(dict)],
        "refit": [Options((True, False, "all"))],
        "linear_base": [Options((True, False))],
        "linear_C": [Interval(Real, 0, None, closed="neither")],
        "random_state": [Interval(Integral, 0, None), Options((None,))],
        "n_jobs": [Interval(Integral, 1, None)],
    }

    def __init__(
        self,
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 40,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.15,
        calibration: str | None = "auto",
        calibration_fraction: float = 0.15,
        class_weight: str | dict[Any, float] | None = None,
        refit: bool | str = True,
        linear_base: bool = False,
        linear_C: float = 0.5,
        random_state: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.class_weight = class_weight
        self.refit = refit
        self.linear_base = linear_base
        self.linear_C = linear_C
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    # -- parameters and inputs ---------------------------------------------------------------

    def _frame(self, X: Any, *, fitting: bool) -> pd.DataFrame:
        """``X`` as a DataFrame of float64 numeric and categorical columns, checked."""
        return encode_frame(self, X, fitting=fitting)

    def check_names(self, names: list[str]) -> None:
        """Raise unless ``names`` are the fitted feature names, in order."""
        check_names(self, names)

    @staticmethod
    def numeric(series: pd.Series, name: str) -> np.ndarray:
        """``series`` as float64, or the classifier's error naming column ``name``."""
        return numeric(series, name)

    # -- fitting -----------------------------------------------------------------------------

    def _slices(self, y: np.ndarray, time: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row indices of the training, validation and calibration slices."""
        n = len(y)
        idx = np.arange(n)
        if time is not None:
            times = pd.to_datetime(pd.Series(np.asarray(time)))
            if len(times) != n:
                raise InvalidParameterError(
                    t("churn.time_length", got=len(times), expected=n),
                    hint=t("churn.time_hint"),
                )
            origins = np.sort(times.unique())
            if len(origins) >= 3:
                k = len(origins)
                n_cal = max(1, round(k * self.calibration_fraction)) if self.calibration else 0
                n_val = max(1, round(k * self.validation_fraction))
                n_cal = min(n_cal, max(0, k - n_val - 1))
                cal_start = origins[k - n_cal] if n_cal else None
                val_start = origins[k - n_cal - n_val]
                tv = times.to_numpy()
                cal = idx[tv >= cal_start] if cal_start is not None else idx[:0]
                val = idx[(tv >= val_start) & ((tv < cal_start) if cal_start is not None else True)]
                train = idx[tv < val_start]
                return train, val, cal
        rng = np.random.default_rng(self.random_state)
        train_parts, val_parts, cal_parts = [], [], []
        for label in np.unique(y):
            rows = rng.permutation(idx[y == label])
            n_cal = int(len(rows) * self.calibration_fraction) if self.calibration else 0
            n_val = int(len(rows) * self.validation_fraction)
            cal_parts.append(rows[:n_cal])
            val_parts.append(rows[n_cal : n_cal + n_val])
            train_parts.append(rows[n_cal + n_val :])
        return (
            np.sort(np.concatenate(train_parts)),
            np.sort(np.concatenate(val_parts)),
            np.sort(np.concatenate(cal_parts)),
        )

    def _params(self, y: np.ndarray) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "min_data_per_group": 100,
            "cat_smooth": 10.0,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "num_threads": self.n_jobs,
            "verbosity": -1,
            "seed": 0 if self.random_state is None else self.random_state,
            "deterministic": True,
            "force_col_wise": True,
        }
        if self.class_weight == "balanced" and y.sum() > 0:
            params["scale_pos_weight"] = float((len(y) - y.sum()) / y.sum())
        return params

    def fit(self, X: Any, y: Any, *, time: Any = None) -> Self:
        """Train the trees, stop early on a later slice, calibrate on a still later one.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features; string/category columns of a DataFrame are native categoricals.
        y : array-like of shape (n_samples,)
            Two classes; the greater one (1, ``True``, ``"Yes"``) is "churned".
        time : array-like of shape (n_samples,), optional
            The reference date (origin) of each row. With three or more origins, validation and
            calibration use the latest origins; otherwise random stratified slices.
        """
        self._validate_params()
        frame = self._frame(X, fitting=True)
        if y is None:
            raise InvalidParameterError(
                t("churn.y_none", name=type(self).__name__), hint=t("churn.y_hint")
            )
        y_arr = column_or_1d(y, warn=True)
        if len(y_arr) != len(frame):
            raise InvalidParameterError(
                t("churn.y_shape", got=str(y_arr.shape), expected=len(frame)),
                hint=t("churn.y_hint"),
            )
        check_classification_targets(y_arr)
        self.classes_ = np.unique(y_arr)
        if len(self.classes_) != 2:
            raise InvalidParameterError(
                t("churn.two_classes", n=len(self.classes_)), hint=t("churn.y_hint")
            )
        target = (y_arr == self.classes_[1]).astype(np.float64)
        train, val, cal = self._slices(target, time)
        usable = (
            len(val) >= _MIN_SLICE and len(np.unique(target[val])) == 2 and len(train) >= _MIN_SLICE
        )
        if not usable:
            train, val = np.concatenate([train, val, cal]), np.arange(0)
            cal = np.arange(0)
        params = self._params(target[train])
        cats = list(self.categories_)
        weights = None
        if isinstance(self.class_weight, dict):
            w = {k: float(v) for k, v in self.class_weight.items()}
            weights = np.array([w.get(label, 1.0) for label in y_arr], dtype=np.float64)

        def base(rows: np.ndarray) -> LinearBase | None:
            if not self.linear_base:
                return None
            w = None if weights is None else weights[rows]
            if self.class_weight == "balanced":
                positive = max(float(target[rows].sum()), 1.0)
                ratio = (len(rows) - positive) / positive
                w = np.where(target[rows] > 0, ratio, 1.0)
            return LinearBase(self.linear_C).fit(
                frame.iloc[rows], target[rows], self.random_state, sample_weight=w
            )

        def dataset(
            rows: np.ndarray, linear: LinearBase | None, ref: lgb.Dataset | None = None
        ) -> lgb.Dataset:
            part = frame.iloc[rows]
            return lgb.Dataset(
                part,
                label=target[rows],
                reference=ref,
                weight=None if weights is None else weights[rows],
                init_score=None if linear is None else linear.margin(part),
                categorical_feature=cats or "auto",
                free_raw_data=False,
            )

        linear = base(train)
        train_set = dataset(train, linear)
        if len(val):
            val_set = dataset(val, linear, train_set)
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=self.n_estimators,
                valid_sets=[val_set],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            best = max(1, int(booster.best_iteration or self.n_estimators))
            if self.refit:
                both = np.sort(np.concatenate([train, val]))
                linear = base(both)
                booster = lgb.train(params, dataset(both, linear), num_boost_round=best)
        else:
            best = self.n_estimators
            booster = lgb.train(params, train_set, num_boost_round=best)
        self.booster_ = booster
        self.linear_ = linear
        self.best_iteration_ = best
        self.n_train_ = len(train) + (len(val) if self.refit else 0)
        self.n_validation_ = len(val)
        self.n_calibration_ = len(cal)
        self.feature_importances_ = booster.feature_importance(importance_type="gain")
        self._fit_calibration(frame, target, cal)
        if self.refit == "all" and len(cal):
            rows = np.sort(np.concatenate([train, val, cal]))
            self.linear_ = base(rows)
            self.booster_ = lgb.train(params, dataset(rows, self.linear_), num_boost_round=best)
            self.n_train_ = len(rows)
        return self

    def _fit_calibration(self, frame: pd.DataFrame, target: np.ndarray, cal: np.ndarray) -> None:
        method = self.calibration
        if method is None or len(cal) < _MIN_SLICE or len(np.unique(target[cal])) < 2:
            self.calibration_ = "none"
            self.calibrator_: CenteredIsotonic | LogisticRegression | None = None
            return
        if method == "auto":
            method = "isotonic" if len(cal) >= 1000 else "sigmoid"
        raw = self._raw_margin(frame.iloc[cal])
        if method == "isotonic":
            self.calibrator_ = CenteredIsotonic().fit(raw, target[cal])
        else:
            platt = LogisticRegression(C=1e6)
            platt.fit(raw.reshape(-1, 1), target[cal])
            self.calibrator_ = platt
        self.calibration_ = method

    # -- prediction ---------------------------------------------------------------------------

    def check_fitted(self) -> None:
        """Raise :class:`ChurnNotFittedError` unless the model is fitted."""
        if not hasattr(self, "booster_"):
            raise ChurnNotFittedError(
                t("churn.not_fitted", name=type(self).__name__), hint=t("churn.not_fitted_hint")
            )

    def _raw_margin(self, frame: pd.DataFrame) -> np.ndarray:
        raw = np.asarray(self.booster_.predict(frame, raw_score=True), dtype=np.float64)
        linear = getattr(self, "linear_", None)
        return raw if linear is None else raw + linear.margin(frame)

    def linear_contributions(self, frame: pd.DataFrame, contrib: np.ndarray) -> np.ndarray:
        """``contrib`` (trees) plus the linear base's exact terms, for a prepared ``frame``."""
        linear = getattr(self, "linear_", None)
        return contrib if linear is None else contrib + linear.contributions(frame)

    def prepare(self, X: Any) -> pd.DataFrame:
        """``X`` checked and encoded the way the trees see it (categories fixed at fit)."""
        self.check_fitted()
        return self._frame(X, fitting=False)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities, shape (n_samples, 2); column 1 is P(churn)."""
        frame = self.prepare(X)
        p = self.calibrate(self._raw_margin(frame))
        return np.column_stack([1.0 - p, p])

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated P(churn) from raw log-odds (monotone: the order of risks is kept)."""
        if isinstance(self.calibrator_, CenteredIsotonic | IsotonicRegression):
            p = self.calibrator_.predict(raw)
        elif isinstance(self.calibrator_, LogisticRegression):
            p = self.calibrator_.predict_proba(raw.reshape(-1, 1))[:, 1]
        else:
            p = 1.0 / (1.0 + np.exp(-raw))
        return np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)

    def predict(self, X: Any) -> np.ndarray:
        """The more likely class of each row (threshold 0.5 on the calibrated probability)."""
        p = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_[(p >= 0.5).astype(int)])

    def contributions(self, X: Any) -> np.ndarray:
        """Contributions to the raw score (log-odds), shape (n_samples, n_features + 1).

        TreeSHAP values of the trees plus the linear base's exact per-feature terms. The last
        column is the expected value (bias). Rows sum to the uncalibrated log-odds;
        calibration is monotone, so a positive contribution always pushes the risk up.
        """
        frame = self.prepare(X)
        out = np.asarray(self.booster_.predict(frame, pred_contrib=True), dtype=np.float64)
        return self.linear_contributions(frame, out)

    def feature_matrix(self, X: pd.DataFrame) -> np.ndarray:
        """``X`` as the float matrix the trees read, checked like :meth:`prepare`.

        Categories come as codes; no prepared copy of the frame is built (fast batch scoring).
        """
        return feature_matrix(self, X)

    def compile_trees(self) -> None:
        """Build the compiled TreeSHAP trees now, once, before scoring on several threads."""
        compile_trees(self)

    def predict_with_contributions(
        self, X: Any, *, groups: np.ndarray | None = None, compiled: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated P(churn) and exact contributions to the raw log-odds, in one pass.

        With ``groups`` (one output column per feature, see
        :func:`~retain.models.churn.reasons.family_groups`) the contributions come summed into
        those columns, bias last. ``compiled=True`` computes TreeSHAP with retain's compiled
        kernel, once per distinct branch pattern of each tree (the same values up to the order
        of floating-point additions, ~1e-15, much faster in batches); models it cannot read
        fall back to LightGBM's ``pred_contrib``.
        """
        if compiled:
            fast = contributions_of(self, X, groups)
            if fast is not None:
                return self.calibrate(fast.sum(axis=1)), fast
        frame = self.prepare(X)
        contrib = np.asarray(self.booster_.predict(frame, pred_contrib=True), dtype=np.float64)
        contrib = grouped(self.linear_contributions(frame, contrib), groups)
        return self.calibrate(contrib.sum(axis=1)), contrib
