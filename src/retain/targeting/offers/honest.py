"""Uplift for a plan, split so that the estimates that choose never value the plan.

Choosing the customers with the largest uplift estimates picks those whose estimates are too
high by chance (the winner's curse); valuing the plan on the same estimates overstates it. And
out-of-fold predictions of one model are not independent enough: a model on four fifths of the
campaign shares most of its noise with the model on all of it (docs/offers.md measures this on
the demo). :func:`uplift_by_halves` fits one clone of a learner on each random half of a past
campaign and splits the planned customers in two by a stable hash: one group is chosen on the
first model and valued on the second, the other the reverse. Each customer's valuation is
independent of the estimate that chose them, and both halves of the data choose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retain.targeting.offers.holdout import holdout_draw

__all__ = ["uplift_by_halves"]

_SPLIT = "uplift-halves"
"""Seeds the stable split of the planned customers."""


def _rows(X: Any, mask: np.ndarray) -> Any:
    index = np.flatnonzero(mask)
    return X.iloc[index] if isinstance(X, pd.DataFrame) else np.asarray(X)[index]


def uplift_by_halves(
    learner: Any,
    X: Any,
    treatment: Any,
    y: Any,
    *,
    plan_X: Any,
    customer_ids: Sequence[str] | pd.Series,
    actions: Mapping[str, str] | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """The planner's uplift frame (``customer_id, action, uplift, uplift_honest``).

    Parameters
    ----------
    learner
        An unfitted uplift learner of :mod:`retain.models.uplift` (``TLearner``, ``XLearner``,
        ``ClassTransformation``): ``fit(X, treatment, y)``, ``predict_uplift``, ``arms_``.
    X, treatment, y
        A past randomized campaign: features, each row's arm, each row's outcome.
    plan_X, customer_ids
        The features and ids of the customers to plan for, in the same order.
    actions
        An arm's action name where they differ (arm ``coupon_20`` -> action ``coupon_20`` by
        default).
    random_state
        Seed of the campaign's split into halves.
    """
    from sklearn.base import clone  # on use: planning without history needs no scikit-learn

    arm = np.asarray(treatment)
    outcome = np.asarray(y)
    half = np.random.default_rng(random_state).random(len(arm)) < 0.5
    models = [
        clone(learner).fit(_rows(X, part), arm[part], outcome[part]) for part in (half, ~half)
    ]
    n = len(customer_ids)
    first, second = (np.asarray(m.predict_uplift(plan_X)).reshape(n, -1) for m in models)
    side = (holdout_draw(_SPLIT, [str(c) for c in customer_ids]) < 0.5)[:, None]
    chosen_on = np.where(side, first, second)
    valued_on = np.where(side, second, first)
    names = actions or {}
    ids = np.asarray(customer_ids, dtype=object)
    parts = [
        pd.DataFrame(
            {
                "customer_id": ids,
                "action": names.get(name, name),
                "uplift": chosen_on[:, k],
                "uplift_honest": valued_on[:, k],
            }
        )
        for k, name in enumerate(models[0].arms_)
    ]
    return pd.concat(parts, ignore_index=True)
