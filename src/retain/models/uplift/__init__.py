"""Uplift models: whom a campaign changes, learned from past campaigns with a random holdout.

``campaign_dataset`` reads one past campaign from the warehouse (its treated and holdout
customers, their outcome in a window after the start, and the point-in-time churn features at
the start); the learners (:class:`TLearner`, :class:`XLearner`, :class:`ClassTransformation`,
scikit-learn estimators on LightGBM) estimate each customer's uplift per arm;
:func:`cross_fit_uplift` gives honest out-of-fold estimates; ``evaluate`` scores rankings with
Qini and uplift curves, AUUC and uplift by decile, with bootstrap intervals. Trained models are
stored with :func:`save_uplift_model` and read through :class:`retain.models.registry.ModelRegistry`
(kind ``uplift``).

Names are imported on first use, so importing the package does not load LightGBM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retain.lazy import lazy_package

if TYPE_CHECKING:
    from retain.models.uplift.campaigns import (
        CONTROL,
        OUTCOMES,
        CampaignData,
        Outcome,
        campaign_dataset,
        list_campaigns,
    )
    from retain.models.uplift.crossfit import cross_fit_uplift, split_uplift
    from retain.models.uplift.evaluate import (
        Estimate,
        arm_rows,
        auuc,
        compare_targeting,
        evaluate_arms,
        qini_auc,
        qini_curve,
        score_intervals,
        uplift_at,
        uplift_by_decile,
        uplift_curve,
    )
    from retain.models.uplift.learners import (
        ClassTransformation,
        SLearner,
        TLearner,
        UpliftLearner,
        XLearner,
    )
    from retain.models.uplift.store import save_uplift_model

__all__ = [
    "CONTROL",
    "OUTCOMES",
    "CampaignData",
    "ClassTransformation",
    "Estimate",
    "Outcome",
    "SLearner",
    "TLearner",
    "UpliftLearner",
    "XLearner",
    "arm_rows",
    "auuc",
    "campaign_dataset",
    "compare_targeting",
    "cross_fit_uplift",
    "evaluate_arms",
    "list_campaigns",
    "qini_auc",
    "qini_curve",
    "save_uplift_model",
    "score_intervals",
    "split_uplift",
    "uplift_at",
    "uplift_by_decile",
    "uplift_curve",
]

_HOMES = {
    "CONTROL": "retain.models.uplift.campaigns",
    "OUTCOMES": "retain.models.uplift.campaigns",
    "CampaignData": "retain.models.uplift.campaigns",
    "Outcome": "retain.models.uplift.campaigns",
    "campaign_dataset": "retain.models.uplift.campaigns",
    "list_campaigns": "retain.models.uplift.campaigns",
    "save_uplift_model": "retain.models.uplift.store",
    "ClassTransformation": "retain.models.uplift.learners",
    "Estimate": "retain.models.uplift.evaluate",
    "SLearner": "retain.models.uplift.learners",
    "TLearner": "retain.models.uplift.learners",
    "UpliftLearner": "retain.models.uplift.learners",
    "XLearner": "retain.models.uplift.learners",
    "arm_rows": "retain.models.uplift.evaluate",
    "auuc": "retain.models.uplift.evaluate",
    "compare_targeting": "retain.models.uplift.evaluate",
    "cross_fit_uplift": "retain.models.uplift.crossfit",
    "evaluate_arms": "retain.models.uplift.evaluate",
    "qini_auc": "retain.models.uplift.evaluate",
    "qini_curve": "retain.models.uplift.evaluate",
    "score_intervals": "retain.models.uplift.evaluate",
    "split_uplift": "retain.models.uplift.crossfit",
    "uplift_at": "retain.models.uplift.evaluate",
    "uplift_by_decile": "retain.models.uplift.evaluate",
    "uplift_curve": "retain.models.uplift.evaluate",
}

lazy_package(__name__, _HOMES)
