"""Train from a warehouse, register, score into churn_scores, and report drift (synthetic shop)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import retain.warehouse as wh
from retain.config import ChurnDefinition, Settings
from retain.errors import DataValidationError, NotFoundError
from retain.features import family_of
from retain.i18n import catalog
from retain.models.churn import (
    ChurnClassifier,
    TrainedModel,
    list_models,
    load_model,
    save_model,
    score_customers,
    score_frame,
    train_model,
)
from retain.report.churn import report_sections

DEFINITION = ChurnDefinition(name="shop", horizon_days=60)


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    from _churn_shop import synthetic_shop

    return train_model(
        synthetic_shop(),
        definition=DEFINITION,
        estimator=ChurnClassifier(random_state=0, n_estimators=200),
        test_origins=2,
    )


def test_card_describes_the_model(trained: TrainedModel) -> None:
    card = trained.card
    champion = card["champion"]
    assert [c["candidate"] for c in champion["candidates"]] == ["logistic", "average", "trees"]
    assert all(
        c["roc_auc_low"] <= c["roc_auc"] <= c["roc_auc_high"] for c in champion["candidates"]
    )
    assert champion["chosen"] == card["model"]["candidate"] and champion["reason"]
    assert card["definition"]["name"] == "shop" and card["definition"]["horizon_days"] == 60
    # Data run 2023-01 .. 2024-06-29; first date after 90 days of history, last whose 60-day
    # label window the data covers.
    assert card["reference_dates"][0] == "2023-04-01"
    assert card["reference_dates"][-1] == "2024-05-01"
    names = [f["name"] for f in card["features"]]
    assert "complaints_unresolved" in names and "country" in names
    assert "events_90d" not in names  # the shop has no events table: all-null features dropped
    assert "p_alive" in names
    assert {m["model"] for m in card["backtest"]["metrics"]} == {
        "model",
        "recency",
        "logistic",
        "bgnbd",
    }
    assert set(card["libraries"]) >= {"python", "lightgbm", "scikit-learn", "ibis-framework"}
    assert len(card["feature_schema_hash"]) == 64
    assert card["risk_bands"]["high"] >= card["risk_bands"]["medium"]
    json.dumps(card)  # the card is JSON


def test_model_finds_the_planted_driver(trained: TrainedModel) -> None:
    metrics = trained.backtest.metrics.set_index("model")  # type: ignore[union-attr]
    assert metrics.loc["model", "roc_auc"] > 0.9
    gain: dict[str, float] = {}
    for name, value in zip(
        trained.model.feature_names_in_, trained.model.feature_importances_, strict=True
    ):
        gain[family_of(name)] = gain.get(family_of(name), 0.0) + float(value)
    # The planted driver (unresolved complaints) outweighs a pure-noise attribute (country).
    assert gain["complaints"] > 1.5 * gain["profile"]


def test_register_load_and_score(
    trained: TrainedModel, shop_warehouse: Any, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    with pytest.raises(NotFoundError, match="no churn model is registered"):
        load_model(models_dir=models)
    path = save_model(trained.model, trained.card, models_dir=models)
    assert (path / "card.json").is_file() and (path / "model.pkl").is_file()
    registered = load_model(models_dir=models)
    assert registered.version == trained.card["version"] == path.name
    assert [c["version"] for c in list_models(models_dir=models)] == [path.name]

    result = score_customers(shop_warehouse, registered)
    scores = wh.read_table(shop_warehouse, "churn_scores").to_pandas()
    assert len(scores) == len(result.scores) > 0
    assert set(scores["risk_band"]) <= {"high", "medium", "low"}
    assert scores["probability"].between(0, 1).all()
    assert (scores["as_of"] == pd.Timestamp("2024-06-30")).all()
    assert (scores["definition"] == "shop").all()
    keys = {item["key"] for text in scores["reasons"] for item in json.loads(text)}
    assert keys and keys <= set(catalog("en"))
    assert "(score)" in set(result.drift["name"])
    # Scoring the same date again replaces, never duplicates.
    score_customers(shop_warehouse, registered)
    assert wh.read_table(shop_warehouse, "churn_scores").count().execute() == len(scores)
    score_customers(shop_warehouse, registered, as_of="2024-05-01")
    assert wh.read_table(shop_warehouse, "churn_scores").count().execute() > len(scores)

    sections = report_sections(shop_warehouse, Settings(models_dir=models, churn=[DEFINITION]))
    (section,) = sections
    assert section.key == "churn"
    titles = [item.title for item in section.items]
    assert len(titles) == 4 and section.items[0].table is not None


def test_report_is_empty_without_a_model(tmp_path: Path) -> None:
    assert report_sections(None, Settings(models_dir=tmp_path)) == []


def test_tampered_artifact_and_unknown_version(trained: TrainedModel, tmp_path: Path) -> None:
    path = save_model(trained.model, trained.card, models_dir=tmp_path)
    with pytest.raises(NotFoundError, match="no churn model has version nope"):
        load_model("nope", models_dir=tmp_path)
    (path / "model.pkl").write_bytes(b"not a model")
    with pytest.raises(DataValidationError, match="does not match the SHA-256"):
        load_model(models_dir=tmp_path)


def test_scoring_data_without_a_trained_feature(
    trained: TrainedModel, tmp_path: Path, shop: dict[str, pd.DataFrame]
) -> None:
    save_model(trained.model, trained.card, models_dir=tmp_path)
    registered = load_model(models_dir=tmp_path)
    without = {k: v for k, v in shop.items() if k != "customers"}
    drift = score_customers(without, registered, write=False).drift.set_index("name")
    assert drift.loc["country", "status"] == "shift"  # every value now missing
    frame = pd.DataFrame({"customer_id": ["x"], "orders_total": [1.0]})
    with pytest.raises(DataValidationError, match="the scoring data has no feature"):
        score_frame(registered, frame)


def test_risk_bands_are_capped_where_most_customers_churn(trained: TrainedModel) -> None:
    """Issue 7 demo review: a 97% churn probability must not be called 'low' on a shop line."""
    import numpy as np

    from retain.models.churn import risk_band
    from retain.models.churn.training import RISK_BAND_CAPS

    bands = trained.card["risk_bands"]
    assert bands["high"] <= RISK_BAND_CAPS["high"]
    assert bands["medium"] <= RISK_BAND_CAPS["medium"]
    assert list(risk_band(np.array([0.97, 0.71]), bands)) == ["high", "high"]
