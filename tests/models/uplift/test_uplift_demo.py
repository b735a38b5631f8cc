"""On the demo business, whose campaign effects are planted, the estimates find them.

The demo's five past campaigns (``demo_truth_campaigns``) each have a random holdout and a
planted true effect on the 60-day purchase probability; the truth also holds both potential
outcomes ``y0`` / ``y1`` of every targeted customer (``DemoTruth.campaign_customers``), so the
individual effects a model ranks by are known too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from retain.demo import DemoBusiness
from retain.errors import InvalidParameterError, NotFoundError
from retain.models.uplift import (
    CONTROL,
    CampaignData,
    TLearner,
    campaign_dataset,
    cross_fit_uplift,
    list_campaigns,
)
from retain.models.uplift.assess import assess_campaign


@pytest.fixture(scope="module")
def campaigns(demo: tuple[DemoBusiness, Any]) -> dict[str, CampaignData]:
    _, con = demo
    ids = list_campaigns(con)["campaign_id"]
    return {cid: campaign_dataset(con, cid, outcome="conversion", window_days=60) for cid in ids}


def test_every_campaign_is_found_with_its_split(demo: tuple[DemoBusiness, Any]) -> None:
    business, con = demo
    listed = list_campaigns(con).set_index("campaign_id")
    truth = business.truth.campaigns.set_index("campaign_id")
    assert list(listed.index) == list(truth.index)
    assert (listed["n_treated"] == truth["n_treatment"]).all()
    assert (listed["n_control"] == truth["n_holdout"]).all()
    assert set(listed["arms"]) == {"treatment"}
    assert (listed["started_at"] == pd.to_datetime(truth["started_at"])).all()


def test_outcomes_are_the_observed_potential_outcomes(
    demo: tuple[DemoBusiness, Any], campaigns: dict[str, CampaignData]
) -> None:
    """Treated customers show ``y1``, the holdout ``y0`` (completed orders, so a few returned
    or cancelled orders differ)."""
    business, _ = demo
    cc = business.truth.campaign_customers
    for cid, data in campaigns.items():
        merged = data.frame.merge(cc[cc["campaign_id"] == cid], on="customer_id")
        assert len(merged) == len(data.frame)
        assert ((merged["arm"] == CONTROL) == (merged["group"] == "control")).all()
        seen = np.where(merged["group"] == "control", merged["y0"], merged["y1"])
        assert (merged["y"] == seen.astype(float)).mean() > 0.97


def test_features_are_taken_before_the_campaign(
    demo: tuple[DemoBusiness, Any], campaigns: dict[str, CampaignData]
) -> None:
    """Features at the start: an order placed because of the campaign is not in them."""
    business, _ = demo
    data = campaigns["CMP-04"]
    orders = business.tables["orders"]
    before = orders[pd.to_datetime(orders["ordered_at"]) < data.started_at]
    counts = before.groupby("customer_id").size()
    frame = data.frame.set_index("customer_id")
    known = frame["orders_total"].dropna()
    assert len(known) > 0.9 * len(frame)
    expected = counts.reindex(known.index).fillna(0)
    assert (known <= expected).all() and (known >= expected - 1).mean() > 0.99


def test_measured_effects_cover_the_planted_ones(
    demo: tuple[DemoBusiness, Any], campaigns: dict[str, CampaignData]
) -> None:
    """Each campaign's measured effect and the model's mean out-of-fold uplift against the truth.

    Five campaigns are checked at once, so each interval is at 99 % (about 95 % for all five
    together). The campaign without an offer (CMP-05, a plain reminder) has a true effect of 0.
    """
    business, _ = demo
    truth = business.truth.campaigns.set_index("campaign_id")["true_effect"]
    for cid, data in campaigns.items():
        row = data.observed_effect(level=0.99).iloc[0]
        assert row["effect_low"] <= truth[cid] <= row["effect_high"], cid
        learner = TLearner(random_state=0, min_child_samples=20, n_estimators=100)
        oof = cross_fit_uplift(learner, data.X, data.treatment, data.y, n_folds=3)
        assert row["effect_low"] <= oof.mean() <= row["effect_high"], cid
    assert truth["CMP-05"] == 0.0 and truth["CMP-04"] > 0.04


def test_ranking_finds_the_customers_the_offer_changes(
    demo: tuple[DemoBusiness, Any], campaigns: dict[str, CampaignData]
) -> None:
    """Out-of-fold, the upper half by estimated uplift holds more customers whom the offer truly
    changed (y1 - y0, known from the truth) than the lower half, in the campaigns with an
    offer, pooled."""
    business, _ = demo
    cc = business.truth.campaign_customers
    top, bottom = [], []
    for cid in ("CMP-01", "CMP-02", "CMP-03", "CMP-04"):
        data = campaigns[cid]
        learner = TLearner(random_state=0, min_child_samples=20, n_estimators=100)
        oof = cross_fit_uplift(learner, data.X, data.treatment, data.y, n_folds=3)
        merged = (
            data.frame[["customer_id"]]
            .assign(u=oof)
            .merge(cc[cc["campaign_id"] == cid], on="customer_id")
        )
        ite = merged["y1"].astype(int) - merged["y0"].astype(int)
        upper = merged["u"] >= merged["u"].median()
        top.append(ite[upper])
        bottom.append(ite[~upper])
    t, b = pd.concat(top), pd.concat(bottom)
    se = np.sqrt(t.var() / len(t) + b.var() / len(b))
    assert t.mean() - b.mean() > 3 * se


def test_bad_requests_are_refused(demo: tuple[DemoBusiness, Any]) -> None:
    _, con = demo
    with pytest.raises(NotFoundError, match="NL-2024-01"):
        campaign_dataset(con, "NL-2024-01")  # a newsletter: no holdout
    with pytest.raises(InvalidParameterError):
        campaign_dataset(con, "CMP-01", outcome="clicks")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        campaign_dataset(con, "CMP-01", window_days=0)


def test_revenue_and_retention_outcomes(demo: tuple[DemoBusiness, Any]) -> None:
    _, con = demo
    revenue = campaign_dataset(con, "CMP-04", outcome="revenue", window_days=60)
    conversion = campaign_dataset(con, "CMP-04", outcome="conversion", window_days=60)
    assert (revenue.y >= 0).all() and revenue.y.max() > 1.0
    assert ((revenue.y > 0) == (conversion.y > 0)).mean() > 0.99
    retention = campaign_dataset(con, "CMP-04", outcome="retention", window_days=30)
    assert set(np.unique(retention.y)) <= {0.0, 1.0}
    assert retention.y.mean() <= conversion.y.mean()


def test_assessment_compares_the_model_with_churn_risk_and_random(
    campaigns: dict[str, CampaignData],
) -> None:
    """The held-out comparison has one row per policy; a risk score joins as ``churn_risk``."""
    data = campaigns["CMP-04"]
    risk = data.frame["days_since_last_order"].to_numpy(dtype=float)  # stale = risky
    found, model = assess_campaign(
        data, TLearner(random_state=0, min_child_samples=20), risk=risk, n_boot=50
    )
    assert model.arms_ == ["treatment"]
    assert list(found.policies["policy"]) == ["model", "churn_risk", "random"]
    assert found.n_train + found.n_test == len(data.frame)
    assert found.n_test == pytest.approx(0.3 * len(data.frame), abs=2)
    assert len(found.deciles) == 10
    assert set(found.metrics()) == {"qini_treatment", "auuc_treatment", "uplift_at_treatment"}
    effect = found.effects.iloc[0]
    assert effect["effect"] == pytest.approx(data.observed_effect().iloc[0]["effect"])
