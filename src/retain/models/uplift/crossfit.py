"""Out-of-fold uplift: every row's estimate comes from a model that never saw that row.

A plan that picks the customers with the largest estimated uplift and then reports the sum of
those same estimates overstates its profit: among many noisy estimates the largest are the ones
that came out too high (the winner's curse). Estimates made out of fold carry no in-sample
optimism, so choosing on one fold's estimates and measuring on held-out outcomes, or correcting
the chosen estimates with their out-of-fold error, stays honest. :func:`cross_fit_uplift` is
that one step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.models.uplift._inputs import binary_outcome, code_arms, outcome
from retain.models.uplift.learners import UpliftLearner

__all__ = ["cross_fit_uplift", "split_uplift"]


def _rows(X: Any, index: np.ndarray) -> Any:
    return X.iloc[index] if isinstance(X, pd.DataFrame) else np.asarray(X)[index]


def cross_fit_uplift(
    learner: UpliftLearner,
    X: Any,
    treatment: Any,
    y: Any,
    *,
    n_folds: int = 5,
    random_state: int = 0,
) -> np.ndarray:
    """Out-of-fold uplift estimates of ``learner`` for every row of a randomized campaign.

    The rows are split into ``n_folds`` folds, stratified by arm (and by outcome when it is
    0/1) so each fold holds every arm; a clone of ``learner`` is fitted on all other folds and
    predicts the held-out fold. ``learner`` itself is left unfitted.

    Parameters
    ----------
    learner
        A :class:`TLearner`, :class:`XLearner` or :class:`ClassTransformation` (its
        ``control`` names the holdout arm).
    X, treatment, y
        As for ``learner.fit``: features, each row's arm name (or 0/1), each row's outcome.
    n_folds
        Number of folds (at least 2).
    random_state
        Seed of the fold assignment.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)`` for one treatment arm, else ``(n, n_arms)`` with the arms sorted by
        name (the learner's ``arms_`` order), in the rows' original order.
    """
    folds_ok: object = n_folds
    if isinstance(folds_ok, bool) or not isinstance(folds_ok, int) or folds_ok < 2:
        raise InvalidParameterError(
            t("uplift.bad_folds", value=repr(n_folds)), hint=t("uplift.bad_folds_hint")
        )
    n = len(X)
    arms = code_arms(treatment, learner.control, n)
    target = outcome(y, n)
    strata = arms.codes * 2 + target.astype(np.int64) if binary_outcome(target) else arms.codes
    labels = np.asarray(treatment)
    out = np.full((n, len(arms.names)), np.nan)
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    for train, test in folds.split(np.zeros(n), strata):
        model = clone(learner).fit(_rows(X, train), labels[train], target[train])
        predicted = model.predict_uplift(_rows(X, test))
        columns = [model.arms_.index(arm) for arm in arms.names]
        out[test] = np.asarray(predicted).reshape(test.size, -1)[:, columns]
    return out[:, 0] if out.shape[1] == 1 else out


def split_uplift(
    learner: UpliftLearner,
    X: Any,
    treatment: Any,
    y: Any,
    X_new: Any,
    *,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Uplift of new customers twice, from two disjoint halves of a campaign: choose, then value.

    A plan for customers outside the campaign cannot use out-of-fold estimates for them, but it
    can choose with one estimate and value the choice with another whose errors are independent
    of the first: clones of ``learner`` are fitted on two halves of the campaign (stratified as
    in :func:`cross_fit_uplift`), the first half's estimates choose and the second's are the
    honest value of what was chosen. Returns ``(choosing, honest)``, each shaped as
    ``learner.predict_uplift(X_new)``.
    """
    n = len(X)
    arms = code_arms(treatment, learner.control, n)
    target = outcome(y, n)
    strata = arms.codes * 2 + target.astype(np.int64) if binary_outcome(target) else arms.codes
    labels = np.asarray(treatment)
    halves = StratifiedKFold(n_splits=2, shuffle=True, random_state=random_state)
    first, second = (test for _, test in halves.split(np.zeros(n), strata))
    out = []
    for rows in (first, second):
        model = clone(learner).fit(_rows(X, rows), labels[rows], target[rows])
        out.append(np.asarray(model.predict_uplift(X_new)))
    return out[0], out[1]
