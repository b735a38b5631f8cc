"""One campaign's uplift model, judged on customers it never saw, against the obvious policies.

:func:`assess_campaign` splits a :class:`~retain.models.uplift.campaigns.CampaignData` into a
training part and a held-out part (stratified by arm and outcome, seeded), fits the learner on
the first, and on the second reports per arm: the measured effect, Qini / AUUC / uplift in the
top 30 % with bootstrap intervals for three ways to pick whom to contact (by predicted uplift,
"highest churn risk first" when a churn score is given, and at random) and the observed uplift
by decile of the prediction. The CLI, the report and the API render it; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from retain.errors import RetainError
from retain.models.uplift.campaigns import CONTROL, CampaignData
from retain.models.uplift.evaluate import (
    arm_rows,
    compare_targeting,
    qini_curve,
    uplift_by_decile,
)
from retain.models.uplift.learners import (
    ClassTransformation,
    SLearner,
    TLearner,
    UpliftLearner,
    XLearner,
)

__all__ = ["LEARNERS", "Assessment", "assess_campaign", "churn_risk", "make_learner"]

LEARNERS: dict[str, Callable[..., UpliftLearner]] = {
    "t": TLearner,
    "x": XLearner,
    "s": SLearner,
    "class_transformation": ClassTransformation,
}
"""The learners by the short name the CLI and the cards use."""


def make_learner(name: str, *, random_state: int = 0) -> UpliftLearner:
    """A learner by short name: ``t``, ``x``, ``s`` or ``class_transformation``.

    Its control arm is named as campaigns name it; an unknown name raises ``KeyError`` (the CLI
    offers the choices).
    """
    return LEARNERS[name](control=CONTROL, random_state=random_state)


@dataclass(frozen=True)
class Assessment:
    """What :func:`assess_campaign` found; every frame has one row per arm (and policy / decile).

    ``effects``: :meth:`CampaignData.observed_effect` on every customer. ``policies``: ``arm``,
    ``policy`` (``model``, ``churn_risk``, ``random``) and Qini / AUUC / ``uplift_at`` with
    ``_low`` / ``_high``, on the held-out customers. ``deciles``: ``arm`` plus
    :func:`uplift_by_decile`'s columns. ``curves``: ``arm``, ``policy``, ``share`` (of the
    held-out customers targeted, 0 to 1 in steps of 0.01) and ``qini`` (incremental outcomes
    per targeted-share, as a share of all customers: the Qini curve divided by their number).
    ``n_train`` / ``n_test``: customers in each part.
    """

    campaign_id: str
    outcome: str
    learner: str
    effects: pd.DataFrame
    policies: pd.DataFrame
    deciles: pd.DataFrame
    curves: pd.DataFrame
    n_train: int
    n_test: int

    def metrics(self) -> dict[str, float]:
        """Flat held-out metrics of the model policy for a model card (``qini_<arm>``, ...)."""
        out: dict[str, float] = {}
        rows = self.policies[self.policies["policy"] == "model"]
        for _, row in rows.iterrows():
            for key in ("qini", "auuc", "uplift_at"):
                out[f"{key}_{row['arm']}"] = float(row[key])
        return out


_GRID = np.linspace(0.0, 1.0, 101)


def _curve(y: np.ndarray, w: np.ndarray, score: np.ndarray | None) -> pd.DataFrame:
    """The Qini curve on a grid of targeted shares; ``None`` is the random-targeting line."""
    if score is None:
        x, q = np.array([0.0, 1.0]), np.array([0.0, qini_curve(y, w, np.zeros(y.size))[1][-1]])
    else:
        x, q = qini_curve(y, w, score)
        x = x / x[-1]
    return pd.DataFrame({"share": _GRID, "qini": np.interp(_GRID, x, q) / y.size})


def churn_risk(data: CampaignData, models_dir: Path) -> np.ndarray | None:
    """Each customer's churn probability at the campaign start by the newest churn model.

    ``None`` when no churn model is registered or its features are not all in the campaign's
    snapshot (a model trained with attributes the snapshot does not carry); then the
    comparison leaves "highest churn risk" out.
    """
    from retain.models.churn import load_model, score_frame

    try:
        registered = load_model(models_dir=models_dir)
        scored = score_frame(registered, data.frame, top=0, workers=1)
    except RetainError:
        return None
    return scored["probability"].to_numpy(dtype=np.float64)


def assess_campaign(
    data: CampaignData,
    learner: UpliftLearner,
    *,
    risk: np.ndarray | None = None,
    test_size: float = 0.3,
    n_boot: int = 200,
    random_state: int = 0,
) -> tuple[Assessment, UpliftLearner]:
    """Fit ``learner`` on a part of the campaign and judge it on the rest (module docstring).

    ``risk`` is a churn probability per row of ``data.frame`` (:func:`churn_risk`). Returns the
    assessment and the learner fitted on the training part.
    """
    y, arms = data.y, data.treatment
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    strata = pd.Series(arms).astype(str) + (pd.Series(y).astype(str) if binary else "")
    if strata.value_counts().min() < 2:  # a stratum of one row cannot be split
        strata = pd.Series(arms).astype(str)
    train, test = train_test_split(
        np.arange(len(y)), test_size=test_size, random_state=random_state, stratify=strata
    )
    learner.fit(data.X.iloc[train], arms[train], y[train])
    uplift = np.asarray(learner.predict_uplift(data.X.iloc[test])).reshape(test.size, -1)
    policies, deciles, curves = [], [], []
    for k, arm in enumerate(learner.arms_):
        mask, w = arm_rows(arms[test], arm, CONTROL)
        ys, score = y[test][mask], uplift[mask, k]
        scores = {"model": score}
        if risk is not None:
            scores["churn_risk"] = np.nan_to_num(risk[test][mask], nan=0.0)
        table = compare_targeting(ys, w, scores, n_boot=n_boot, random_state=random_state)
        policies.append(table.assign(arm=arm))
        for policy, values in [*scores.items(), ("random", None)]:
            curves.append(_curve(ys, w, values).assign(arm=arm, policy=policy))
        decile = uplift_by_decile(ys, w, score, n_boot=n_boot, random_state=random_state)
        deciles.append(decile.assign(arm=arm))
    first = ["arm"]
    policy_frame = pd.concat(policies, ignore_index=True)
    decile_frame = pd.concat(deciles, ignore_index=True)
    assessment = Assessment(
        campaign_id=data.campaign_id,
        outcome=data.outcome,
        learner=type(learner).__name__,
        effects=data.observed_effect(),
        policies=policy_frame[first + [c for c in policy_frame.columns if c != "arm"]],
        deciles=decile_frame[first + [c for c in decile_frame.columns if c != "arm"]],
        curves=pd.concat(curves, ignore_index=True)[["arm", "policy", "share", "qini"]],
        n_train=int(train.size),
        n_test=int(test.size),
    )
    return assessment, learner
