"""Uplift learners on LightGBM: T-learner, X-learner and the class transformation.

Each estimates, per customer and per treatment arm, the uplift ``E[Y | x, arm] - E[Y | x,
control]`` from a randomized campaign: ``fit(X, treatment, y)`` with ``treatment`` the arm name of
each row (the holdout is named by ``control``), ``predict_uplift(X)`` the estimates. They follow
scikit-learn's conventions (hyper-parameters in the constructor, learned state ending in ``_``,
``clone`` works), so :func:`retain.models.uplift.cross_fit_uplift` can refit them per fold.

- :class:`TLearner` (two models): one outcome model per arm; uplift is the difference of their
  predictions. Simple and strong when each arm has many rows.
- :class:`XLearner` (Kuenzel et al. 2019, PNAS 116(10)): the T-learner's outcome models impute
  each row's individual effect, a second model per arm learns those effects, and the two effect
  models are mixed by the share of treated rows. Better when an arm is much smaller than control.
- :class:`ClassTransformation` (Jaskowski & Jaroszewicz 2012): one model per arm on a transformed
  target whose expectation is the uplift: for 0/1 outcomes ``z = 1`` when the outcome equals the
  treatment indicator, with rows weighted so both groups weigh half (then uplift = ``2 P(z=1|x) -
  1``); for amounts the transformed outcome ``y (w - p) / (p (1 - p))`` (Athey & Imbens 2016).

Outcomes of only 0 and 1 (retention, conversion) get LightGBM classifiers, others (revenue)
regressors. The campaigns are randomized, so the propensity of each arm is its share of the rows.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from numbers import Integral, Real
from typing import Any, ClassVar, Self

import lightgbm as lgb
import numpy as np
import pandas as pd

from retain.models._base import Interval, Options, RetainEstimator, check_is_fitted
from retain.models.uplift._inputs import (
    arm_index,
    binary_outcome,
    code_arms,
    encode,
    fit_encoding,
    outcome,
)

__all__ = ["ClassTransformation", "SLearner", "TLearner", "UpliftLearner", "XLearner"]

Model = lgb.LGBMClassifier | lgb.LGBMRegressor


class _Text:
    """A parameter constraint: any non-empty string."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value)

    def __str__(self) -> str:
        return "a non-empty str"


class UpliftLearner(RetainEstimator, metaclass=ABCMeta):
    """Shared by the learners: LightGBM hyper-parameters, arm coding, fit and predict.

    Parameters
    ----------
    control : str, default="control"
        The arm name of the holdout in ``treatment``.
    n_estimators : int, default=200
        Boosting rounds of every LightGBM model.
    learning_rate : float, default=0.03
    num_leaves : int, default=15
    min_child_samples : int, default=100
        Fewest rows in a leaf; uplift is a small difference of noisy rates, so leaves are
        kept large.
    subsample : float, default=0.8
        Share of rows drawn for each tree (bagging).
    colsample_bytree : float, default=0.8
        Share of features drawn for each tree.
    reg_lambda : float, default=1.0
        L2 penalty on leaf values.
    random_state : int or None, default=None
    n_jobs : int, default=1
        LightGBM threads.

    Attributes
    ----------
    arms_ : list of str
        The treatment arms, sorted; columns of :meth:`predict_uplift`.
    propensity_ : dict of str to float
        Each arm's share of the rows in that arm or control.
    binary_ : bool
        Whether the outcome was 0/1 (classifiers) or an amount (regressors).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame.
    """

    _message_area: ClassVar[str] = "uplift"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "control": [_Text()],
        "n_estimators": [Interval(Integral, 1, None)],
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "num_leaves": [Interval(Integral, 2, None)],
        "min_child_samples": [Interval(Integral, 1, None)],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None)],
        "random_state": [Interval(Integral, 0, None), Options((None,))],
        "n_jobs": [Interval(Integral, 1, None)],
    }

    def __init__(
        self,
        *,
        control: str = "control",
        n_estimators: int = 200,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 100,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        random_state: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.control = control
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, X: Any, treatment: Any, y: Any) -> Self:
        """Fit on a randomized campaign: features ``X``, each row's arm, each row's outcome.

        ``treatment`` holds arm names (the holdout named ``control``) or 0/1; ``y`` is 0/1
        (retention, conversion) or an amount (revenue). Returns ``self``.
        """
        self._validate_params()
        encoding = fit_encoding(X)
        frame = encode(X, encoding)
        arms = code_arms(treatment, self.control, len(frame))
        target = outcome(y, len(frame))
        self.encoding_ = encoding
        self.n_features_in_ = len(encoding.names)
        if encoding.named:
            self.feature_names_in_ = np.asarray(encoding.names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.arms_ = list(arms.names)
        self.binary_ = binary_outcome(target)
        n_control = int((arms.codes == 0).sum())
        self.propensity_ = {
            arm: float(n / (n + n_control))
            for k, arm in enumerate(self.arms_, start=1)
            if (n := int((arms.codes == k).sum()))
        }
        self._fit_arms(frame, arms.codes, target)
        return self

    @abstractmethod
    def _fit_arms(self, frame: pd.DataFrame, codes: np.ndarray, y: np.ndarray) -> None:
        """Fit the learner's models; ``codes`` are arm codes (0 = control)."""

    def _model(self, *, classifier: bool, salt: int) -> Model:
        """A LightGBM model with the learner's hyper-parameters (seeded per role by ``salt``)."""
        seed = None if self.random_state is None else self.random_state + salt
        kwargs: dict[str, Any] = {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1 else 0,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "random_state": seed,
            "n_jobs": self.n_jobs,
            "verbose": -1,
        }
        return lgb.LGBMClassifier(**kwargs) if classifier else lgb.LGBMRegressor(**kwargs)

    def _fitted(
        self,
        frame: pd.DataFrame,
        target: np.ndarray,
        *,
        classifier: bool,
        salt: int,
        weight: np.ndarray | None = None,
    ) -> Model:
        """A model fitted on ``frame``; a 0/1 target with one class gets a constant regressor."""
        if classifier and np.unique(target).size < 2:
            classifier = False
        model = self._model(classifier=classifier, salt=salt)
        model.fit(frame, target, sample_weight=weight)
        return model

    @staticmethod
    def _mean(model: Model, frame: pd.DataFrame) -> np.ndarray:
        """The model's expected outcome: P(1) for a classifier, the prediction otherwise."""
        if isinstance(model, lgb.LGBMClassifier):
            return np.asarray(model.predict_proba(frame), dtype=np.float64)[:, 1]
        return np.asarray(model.predict(frame), dtype=np.float64)

    # -- prediction ---------------------------------------------------------------------------

    def predict_uplift(self, X: Any, arm: str | None = None) -> np.ndarray:
        """Estimated uplift of each row: shape ``(n,)`` for one arm, ``(n, len(arms_))`` else.

        With ``arm`` given, the uplift of that arm only, shape ``(n,)``. Columns follow
        :attr:`arms_`.
        """
        check_is_fitted(self)
        frame = encode(X, self.encoding_)
        if arm is not None:
            return self._arm_uplift(frame, arm_index(self.arms_, arm))
        columns = [self._arm_uplift(frame, k) for k in range(len(self.arms_))]
        return columns[0] if len(columns) == 1 else np.column_stack(columns)

    @abstractmethod
    def _arm_uplift(self, frame: pd.DataFrame, k: int) -> np.ndarray:
        """Uplift of arm ``arms_[k]`` for each row of the encoded ``frame``."""


class TLearner(UpliftLearner):
    """Two-model learner: an outcome model per arm, uplift = arm's prediction - control's.

    Parameters are those of :class:`UpliftLearner`.

    Attributes
    ----------
    control_model_ : LGBMClassifier or LGBMRegressor
        The outcome model of the control rows.
    arm_models_ : dict of str to LGBMClassifier or LGBMRegressor
        The outcome model of each arm's rows.
    """

    def _fit_arms(self, frame: pd.DataFrame, codes: np.ndarray, y: np.ndarray) -> None:
        binary = self.binary_
        rows = codes == 0
        self.control_model_ = self._fitted(frame[rows], y[rows], classifier=binary, salt=0)
        self.arm_models_ = {
            arm: self._fitted(frame[codes == k], y[codes == k], classifier=binary, salt=k)
            for k, arm in enumerate(self.arms_, start=1)
        }

    def _arm_uplift(self, frame: pd.DataFrame, k: int) -> np.ndarray:
        model = self.arm_models_[self.arms_[k]]
        difference: np.ndarray = self._mean(model, frame) - self._mean(self.control_model_, frame)
        return difference

    def predict_outcomes(self, X: Any) -> pd.DataFrame:
        """Expected outcome of each row under control and under each arm (columns by name)."""
        check_is_fitted(self)
        frame = encode(X, self.encoding_)
        out = {self.control: self._mean(self.control_model_, frame)}
        out.update({arm: self._mean(m, frame) for arm, m in self.arm_models_.items()})
        return pd.DataFrame(out)


class XLearner(TLearner):
    """X-learner: the T-learner's outcome models impute effects; effect models learn them.

    For arm ``a`` with treated share ``p``: control rows get the imputed effect
    ``mu_a(x) - y``, the arm's rows ``y - mu_0(x)``; a regressor is fitted to each, and the
    uplift is ``p * tau_0(x) + (1 - p) * tau_a(x)`` (the group whose outcome model rests on
    more rows gets the larger weight). Parameters are those of :class:`UpliftLearner`.

    Attributes
    ----------
    control_model_, arm_models_
        The outcome models, as in :class:`TLearner`.
    effect_models_ : dict of str to (LGBMRegressor, LGBMRegressor)
        Per arm, the effect model fitted on the control rows and the one on the arm's rows.
    """

    def _fit_arms(self, frame: pd.DataFrame, codes: np.ndarray, y: np.ndarray) -> None:
        super()._fit_arms(frame, codes, y)
        control = codes == 0
        x0 = frame[control]
        mu0 = self._mean(self.control_model_, frame)
        self.effect_models_: dict[str, tuple[Model, Model]] = {}
        for k, arm in enumerate(self.arms_, start=1):
            rows = codes == k
            d0 = self._mean(self.arm_models_[arm], x0) - y[control]
            d1 = y[rows] - mu0[rows]
            tau0 = self._fitted(x0, d0, classifier=False, salt=100 + k)
            tau1 = self._fitted(frame[rows], d1, classifier=False, salt=200 + k)
            self.effect_models_[arm] = (tau0, tau1)

    def _arm_uplift(self, frame: pd.DataFrame, k: int) -> np.ndarray:
        arm = self.arms_[k]
        tau0, tau1 = self.effect_models_[arm]
        p = self.propensity_[arm]
        return p * self._mean(tau0, frame) + (1.0 - p) * self._mean(tau1, frame)


class SLearner(UpliftLearner):
    """Single-model learner: one outcome model with the arm as a feature.

    Uplift of arm ``a`` is the model's prediction with the arm set to ``a`` minus that with it
    set to control. All arms share one model, so the base outcome is learned from every row;
    trees may ignore a weak arm feature, which shrinks small effects toward 0 (a sound bias on
    noisy campaigns: on Hillstrom it was the best ranking for visits). Parameters are those of
    :class:`UpliftLearner`.

    Attributes
    ----------
    model_ : LGBMClassifier or LGBMRegressor
        The outcome model; its last column, ``uplift_arm_``, is the arm code (0 = control).
    """

    _ARM = "uplift_arm_"

    def _with_arm(self, frame: pd.DataFrame, code: int | np.ndarray) -> pd.DataFrame:
        out = frame.copy()
        codes = np.broadcast_to(np.asarray(code, dtype=np.int64), (len(frame),))
        out[self._ARM] = pd.Categorical(codes, categories=range(len(self.arms_) + 1))
        return out

    def _fit_arms(self, frame: pd.DataFrame, codes: np.ndarray, y: np.ndarray) -> None:
        self.model_ = self._fitted(self._with_arm(frame, codes), y, classifier=self.binary_, salt=0)

    def _arm_uplift(self, frame: pd.DataFrame, k: int) -> np.ndarray:
        treated = self._mean(self.model_, self._with_arm(frame, k + 1))
        difference: np.ndarray = treated - self._mean(self.model_, self._with_arm(frame, 0))
        return difference


class ClassTransformation(UpliftLearner):
    """One model per arm on a transformed target whose expectation is the uplift.

    0/1 outcomes: a classifier on ``z = 1{y == w}`` with the treated and control rows weighted
    to half each, uplift ``2 P(z = 1 | x) - 1``; amounts: a regressor on ``y (w - p) / (p (1 -
    p))``. Parameters are those of :class:`UpliftLearner`.

    Attributes
    ----------
    arm_models_ : dict of str to LGBMClassifier or LGBMRegressor
        The model of each arm, fitted on that arm's rows and the control rows.
    """

    def _fit_arms(self, frame: pd.DataFrame, codes: np.ndarray, y: np.ndarray) -> None:
        self.arm_models_: dict[str, Model] = {}
        for k, arm in enumerate(self.arms_, start=1):
            rows = (codes == 0) | (codes == k)
            w = (codes[rows] == k).astype(np.float64)
            p = self.propensity_[arm]
            target = y[rows]
            if self.binary_:
                z = (target == w).astype(np.float64)
                weight = np.where(w == 1.0, 0.5 / p, 0.5 / (1.0 - p))
                model = self._fitted(frame[rows], z, classifier=True, salt=k, weight=weight)
            else:
                transformed = target * (w - p) / (p * (1.0 - p))
                model = self._fitted(frame[rows], transformed, classifier=False, salt=k)
            self.arm_models_[arm] = model

    def _arm_uplift(self, frame: pd.DataFrame, k: int) -> np.ndarray:
        model = self.arm_models_[self.arms_[k]]
        if self.binary_:
            return 2.0 * self._mean(model, frame) - 1.0
        return self._mean(model, frame)
