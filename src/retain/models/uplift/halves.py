"""Uplift split so that the estimates that choose never value the choice.

Choosing the customers with the largest uplift estimates picks those whose estimates are too
high by chance (the winner's curse); valuing the choice on the same estimates overstates it. And
out-of-fold predictions of one model are not independent enough: a model on four fifths of the
campaign shares most of its noise with the model on all of it (docs/offers.md measures this on
the demo).

:func:`uplift_by_halves` fits one clone of a learner on each random half of a past campaign and
splits the customers to score in two by a stable hash (:func:`stable_draw`): one group is chosen
on the first model, the other on the second. A customer is then **valued by what the campaign
measured** for customers like them, on the half their choosing model never saw: that half is cut
into groups by the choosing model's score (:data:`GROUP_EDGES`, quantiles: the bottom half, then
ever thinner slices of the top, where plans choose), and each group's uplift is its treated mean
minus its held-out mean, with that difference's variance (:func:`group_effects`, the "sorted
group effects" of Chernozhukov, Demirer, Duflo and Fernández-Val, 2018). Randomization makes
each group's difference unbiased, whatever the model got wrong; the choosing model's noise only
decides which group a customer falls in.

**Weighted by value.** A plan sums uplift x value over the customers it contacts, and within a
group the two are not independent (on the demo the coupon works a little less on customers with
larger orders): the group's mean uplift x their value overstated the sum on every demo seed.
So when the campaign and the planned customers carry a pre-treatment value column (``value``,
:data:`VALUE_FEATURE` by default: what a kept customer's worth is proportional to), each group is
measured on what the plan sums: the value-weighted treated mean minus the value-weighted held-out
mean, an unbiased ratio for sum(uplift x value) / sum(value) over the group (docs/offers.md,
"Honest profit"). Without that column the groups are unweighted, as before. The variances give a
plan its interval
(``honest_group``, ``honest_variance``; ``retain.targeting.offers.plan_offers``). It lives with
the uplift models so that stored scoring (:mod:`retain.models.uplift.scores`) and the planner
(``retain.targeting.offers``) value customers the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "ERROR_COLUMNS",
    "GROUP_EDGES",
    "VALUE_FEATURE",
    "GroupEffects",
    "group_effects",
    "stable_draw",
    "uplift_by_halves",
]

_SPLIT = "uplift-halves"
"""Seeds the stable split of the planned customers."""
GROUP_EDGES = (0.0, 0.5, 0.8, 0.9, 0.95, 1.0)
"""Quantiles of the choosing score that cut the calibration half into groups."""
MIN_PER_ARM = 200
"""A group with fewer treated or held-out customers is merged into its neighbour."""

VALUE_FEATURE = "average_order_value"
"""The feature :func:`uplift_by_halves` weights groups by when both frames have it: a customer's
worth to a plan (CLV, the discount's order value) grows with it (``retain.features``)."""

ERROR_COLUMNS = ("honest_group", "honest_variance")
"""Which measurement values each row (action/half/group) and that measurement's variance."""

FloatArray = npt.NDArray[np.float64]
_SCALE = float(2**64)


def stable_draw(key: str, ids: Iterable[str]) -> FloatArray:
    """A uniform number in [0, 1) per id, fixed by ``(key, id)`` on every run and machine.

    BLAKE2b, not Python's salted ``hash``; another ``key`` draws afresh.
    """
    prefix = key.encode("utf-8") + b"\x1f"
    values = [
        int.from_bytes(
            hashlib.blake2b(prefix + str(i).encode("utf-8"), digest_size=8).digest(), "big"
        )
        for i in ids
    ]
    return np.asarray(values, dtype=np.float64) / _SCALE


@dataclass(frozen=True)
class GroupEffects:
    """The measured uplift per group of a score: ``cuts`` between groups, lowest first."""

    cuts: FloatArray
    effect: FloatArray
    """Treated mean - held-out mean in each group."""
    variance: FloatArray
    """Each difference's variance (unpooled): its square root is the group's standard error."""

    def group(self, score: Any) -> npt.NDArray[np.int64]:
        """The group of each score (0 = lowest)."""
        found: npt.NDArray[np.int64] = np.searchsorted(
            self.cuts, np.asarray(score, dtype=np.float64), side="right"
        )
        return found


def group_effects(
    score: Any,
    treated: Any,
    y: Any,
    *,
    weight: Any = None,
    edges: Sequence[float] = GROUP_EDGES,
    min_per_arm: int = MIN_PER_ARM,
) -> GroupEffects:
    """Measured uplift by group of ``score`` on a randomized sample the scoring model never saw.

    ``treated`` flags the rows that got the offer (the others are the random holdout); ``y`` is
    each row's outcome. Groups are cut at the ``edges`` quantiles of ``score``; one with fewer
    than ``min_per_arm`` customers in either arm is merged into its neighbour.

    With ``weight`` (each row's value, >= 0; NaN counts as 0), a group's effect is the
    weighted treated mean minus the weighted held-out mean: consistent for
    sum(uplift x weight) / sum(weight) over the group, which is what a plan that multiplies it by
    its customers' values sums. A group whose arms carry no weight falls back to plain means.
    """
    s = np.asarray(score, dtype=np.float64)
    t = np.asarray(treated, dtype=bool)
    out = np.asarray(y, dtype=np.float64)
    w = None if weight is None else np.nan_to_num(np.asarray(weight, dtype=np.float64))
    if w is not None and (w < 0).any():
        raise ValueError("group_effects: weights must not be negative")
    cuts = np.unique(np.quantile(s, list(edges)[1:-1])) if s.size else np.array([])
    while cuts.size:
        g = np.searchsorted(cuts, s, side="right")
        n_t = np.bincount(g[t], minlength=cuts.size + 1)
        n_c = np.bincount(g[~t], minlength=cuts.size + 1)
        small = np.flatnonzero((n_t < min_per_arm) | (n_c < min_per_arm))
        if not small.size:
            break
        cuts = np.delete(cuts, max(int(small[-1]) - 1, 0))
    g = np.searchsorted(cuts, s, side="right")
    effect, variance = [], []
    for k in range(cuts.size + 1):
        arms = [(g == k) & t, (g == k) & ~t]
        found = [_mean_and_variance(out[a], None if w is None else w[a]) for a in arms]
        effect.append(found[0][0] - found[1][0])
        variance.append(found[0][1] + found[1][1])
    return GroupEffects(cuts.astype(np.float64), np.array(effect), np.array(variance))


def _mean_and_variance(y: FloatArray, w: FloatArray | None) -> tuple[float, float]:
    """One arm's (weighted) mean and that mean's variance; NaN where there are too few rows.

    Unweighted: the mean and var(ddof=1) / n. Weighted (a ratio estimator): sum(w y) / sum(w)
    and n / (n - 1) x sum(w^2 (y - mean)^2) / sum(w)^2, which is the former when all w are equal.
    """
    n = y.size
    if w is None or not w.sum() > 0:
        w = np.ones(n)
    if not n:
        return np.nan, np.nan
    mean = float((w * y).sum() / w.sum())
    if n < 2:
        return mean, np.nan
    spread = float((w**2 * (y - mean) ** 2).sum() / w.sum() ** 2)
    return mean, spread * n / (n - 1)


def _rows(X: Any, mask: npt.NDArray[np.bool_]) -> Any:
    index = np.flatnonzero(mask)
    return X.iloc[index] if isinstance(X, pd.DataFrame) else np.asarray(X)[index]


def _column(X: Any, name: str | None) -> FloatArray | None:
    """Column ``name`` of a frame as floats (NaN and negatives as 0); None when it has none."""
    if name is None or not isinstance(X, pd.DataFrame) or name not in X.columns:
        return None
    found = pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=np.float64)
    clipped: FloatArray = np.clip(np.nan_to_num(found), 0.0, None)
    return clipped


def _arm_flags(arm: npt.NDArray[Any], control: Any, name: str, arms: int) -> tuple[Any, Any]:
    """(held out, got arm ``name``) per campaign row; 0/1 treatment for a one-arm campaign."""
    if arm.dtype.kind in "biuf":
        held = arm == 0
        return held, ~held if arms == 1 else arm == name
    return arm == control, arm == name


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
    value: str | None = VALUE_FEATURE,
) -> pd.DataFrame:
    """The planner's uplift frame, with each valuation's group and variance.

    Columns: ``customer_id, action, uplift`` (the choosing model's estimate),
    ``uplift_honest`` (the measured uplift of the customer's group on the other half),
    ``honest_group`` (which measurement: action, half and group) and ``honest_variance``.

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
    value
        A column of both ``X`` and ``plan_X`` that a customer's worth to the plan is proportional
        to (known before the campaign, e.g. the average order): the groups are measured
        weighted by it (the module's docstring). None, or a column either frame lacks: unweighted.
    """
    from sklearn.base import clone  # on use: planning without history needs no scikit-learn

    arm = np.asarray(treatment)
    outcome = np.asarray(y, dtype=np.float64)
    half = np.random.default_rng(random_state).random(len(arm)) < 0.5
    parts = (half, ~half)
    models = [clone(learner).fit(_rows(X, part), arm[part], outcome[part]) for part in parts]
    ids = np.asarray([str(c) for c in customer_ids], dtype=object)
    on_first = stable_draw(_SPLIT, list(ids)) < 0.5
    names = actions or {}
    arms = list(models[0].arms_)
    control = getattr(learner, "control", "control")
    weight = _column(X, value)
    weighted = weight is not None and _column(plan_X, value) is not None
    frames = []
    for m, model in enumerate(models):
        mine = on_first if m == 0 else ~on_first
        if not mine.any():  # a plan of a few customers may all fall on one side
            continue
        calibration = parts[1 - m]
        cal_X = _rows(X, calibration)
        cal_scores = np.asarray(model.predict_uplift(cal_X)).reshape(int(calibration.sum()), -1)
        scores = np.asarray(model.predict_uplift(_rows(plan_X, mine))).reshape(int(mine.sum()), -1)
        for k, name in enumerate(arms):
            held, got = _arm_flags(arm[calibration], control, name, len(arms))
            rows = held | got
            found = group_effects(
                cal_scores[rows, k],
                got[rows],
                outcome[calibration][rows],
                weight=weight[calibration][rows] if weighted and weight is not None else None,
            )
            group = found.group(scores[:, k])
            action = names.get(name, name)
            frames.append(
                pd.DataFrame(
                    {
                        "customer_id": ids[mine],
                        "action": action,
                        "uplift": scores[:, k],
                        "uplift_honest": found.effect[group],
                        "honest_group": [f"{action}/{m}/{g}" for g in group],
                        "honest_variance": found.variance[group],
                    }
                )
            )
    if not frames:  # nobody to plan for
        columns = ["customer_id", "action", "uplift", "uplift_honest"]
        return pd.DataFrame(columns=[*columns, "honest_group", "honest_variance"])
    out = pd.concat(frames, ignore_index=True)
    order = {c: i for i, c in enumerate(ids)}
    out["_i"] = out["customer_id"].map(order)
    by_action = {names.get(a, a): i for i, a in enumerate(arms)}
    out["_a"] = out["action"].map(by_action)
    out = out.sort_values(["_a", "_i"], kind="stable", ignore_index=True)
    return out.drop(columns=["_i", "_a"])
