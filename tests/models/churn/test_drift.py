"""Drift right after training reads stable; a real shift in the scoring data is still flagged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from retain.config import ChurnDefinition
from retain.features import feature_snapshot
from retain.models.churn import (
    ChurnClassifier,
    TrainedModel,
    build_panel,
    drift_report,
    load_model,
    reference_profile,
    save_model,
    score_customers,
    train_model,
)
from retain.models.churn.registry import RegisteredModel

DEFINITION = ChurnDefinition(name="shop", horizon_days=60)


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    from _churn_shop import synthetic_shop

    return train_model(
        synthetic_shop(),
        definition=DEFINITION,
        estimator=ChurnClassifier(random_state=0, n_estimators=60),
        evaluate=False,
    )


@pytest.fixture
def registered(trained: TrainedModel, tmp_path: Path) -> RegisteredModel:
    save_model(trained.model, trained.card, models_dir=tmp_path)
    return load_model(models_dir=tmp_path)


def test_reference_is_the_population_scored_next(trained: TrainedModel) -> None:
    # The data end on 2024-06-29: scoring defaults to 2024-06-30, a horizon after the last
    # labelled date (2024-05-01).
    assert trained.card["reference_dates"][-1] == "2024-05-01"
    assert trained.card["reference"]["as_of"] == "2024-06-30"


def test_a_model_just_trained_is_not_flagged(
    registered: RegisteredModel, shop: dict[str, pd.DataFrame]
) -> None:
    drift = score_customers(shop, registered, write=False).drift
    assert len(drift) > 10
    assert (drift["status"] == "stable").all(), drift.head()
    assert drift["psi"].max() < 1e-9  # the same customers, the same features


def test_the_labelled_date_would_have_flagged_tenure(
    trained: TrainedModel, registered: RegisteredModel, shop: dict[str, pd.DataFrame]
) -> None:
    """Why the reference moved: customers at the last labelled date are 60 days younger."""
    panel, _ = build_panel(shop, definition=DEFINITION, dates=["2024-05-01"])
    names = [f["name"] for f in trained.card["features"]]
    labelled = reference_profile(panel[names], trained.model.predict_proba(panel[names])[:, 1])
    result = score_customers(shop, registered, write=False)
    now = feature_snapshot(shop, as_of=result.as_of, definition=DEFINITION).to_pandas()
    stale = drift_report(labelled, now, result.scores["probability"].to_numpy())
    assert stale.set_index("name").loc["tenure_days", "status"] != "stable"


def test_a_real_shift_is_still_flagged(
    registered: RegisteredModel, shop: dict[str, pd.DataFrame]
) -> None:
    # Every order worth ten times as much: spending features move, tenure does not.
    orders = shop["orders"].assign(amount=shop["orders"]["amount"] * 10)
    drift = score_customers({**shop, "orders": orders}, registered, write=False).drift
    status = drift.set_index("name")["status"]
    money = ["revenue_total", "revenue_90d", "average_order_value"]
    assert (status[money] == "shift").all()
    assert status["tenure_days"] == "stable"
