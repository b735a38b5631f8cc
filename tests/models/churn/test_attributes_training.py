"""Training and scoring with customer attributes: chosen at training, rebuilt at scoring, and an
attribute that records the outcome is left out (synthetic shop, one reference date)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retain.config import ChurnDefinition
from retain.features import churn_labels
from retain.models.churn import (
    ChurnClassifier,
    load_model,
    save_model,
    score_customers,
    train_model,
)

AS_OF = "2024-03-01"


def _definition(**kwargs: Any) -> ChurnDefinition:
    return ChurnDefinition(name="shop", horizon_days=60, **kwargs)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    """The shop with attributes: a noise tier, spend written as text, and a status that is the
    churn label itself (as an export taken after the fact would hold it)."""
    from _churn_shop import synthetic_shop

    shop = synthetic_shop(n=400)
    labels = churn_labels(shop, as_of=AS_OF, definition=_definition()).to_pandas()
    left = set(labels.loc[labels["churned"].astype(bool), "customer_id"])
    rng = np.random.default_rng(5)
    customers = shop["customers"].copy()
    customers["attributes"] = [
        json.dumps(
            {
                "tier": str(rng.choice(["gold", "silver", "basic"])),
                "spend": f"{rng.uniform(10, 90):.2f}",
                "account status": "cancelled" if cid in left else "active",
            }
        )
        for cid in customers["customer_id"]
    ]
    return {**shop, "customers": customers}


def _train(tables: dict[str, pd.DataFrame], **kwargs: Any) -> Any:
    return train_model(
        tables,
        definition=_definition(**kwargs),
        dates=[AS_OF],
        estimator=ChurnClassifier(random_state=0, n_estimators=50),
        evaluate=False,
    )


def test_attributes_become_features_and_the_outcome_proxy_is_left_out(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    trained = _train(tables)
    card = trained.card
    assert card["attributes"] == [
        {"key": "tier", "name": "attr_tier", "kind": "categorical"},
        {"key": "spend", "name": "attr_spend", "kind": "numeric"},
    ]
    names = [f["name"] for f in card["features"]]
    assert {"attr_tier", "attr_spend"} <= set(names) and "attr_account_status" not in names
    (note,) = [n for n in card["notes"] if "account status" in n]
    assert "left out" in note and "ROC AUC 1.000" in note

    save_model(trained.model, card, models_dir=tmp_path)
    result = score_customers(tables, load_model(models_dir=tmp_path), as_of=AS_OF, write=False)
    assert len(result.scores) > 0 and result.scores["probability"].between(0, 1).all()
    assert {"attr_tier", "attr_spend"} <= set(result.drift["name"])


def test_a_listed_proxy_is_kept_with_a_warning(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    trained = _train(tables, attributes=["account status"])
    assert trained.card["attributes"] == [
        {"key": "account status", "name": "attr_account_status", "kind": "categorical"}
    ]
    (note,) = [n for n in trained.card["notes"] if "account status" in n]
    assert "kept because" in note
    # It drives the churners' scores, and their reasons name the key as written.
    save_model(trained.model, trained.card, models_dir=tmp_path)
    scores = score_customers(tables, load_model(models_dir=tmp_path), as_of=AS_OF, write=False)
    top = json.loads(scores.scores.sort_values("probability").iloc[-1]["reasons"])[0]
    assert top["key"] == "reasons.attribute"
    assert top["params"] == {"name": "account status", "value": "cancelled"}


def test_no_attributes_and_excluded_ones(tables: dict[str, pd.DataFrame]) -> None:
    assert _train(tables, attributes=[]).card["attributes"] == []
    trained = _train(tables, exclude_attributes=["tier", "account status"])
    assert [a["key"] for a in trained.card["attributes"]] == ["spend"]
    assert not [n for n in trained.card["notes"] if "account status" in n]


def test_a_card_from_before_attributes_still_scores(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    trained = _train(tables, attributes=[])
    card = {k: v for k, v in trained.card.items() if k != "attributes"}
    save_model(trained.model, card, models_dir=tmp_path)
    result = score_customers(tables, load_model(models_dir=tmp_path), as_of=AS_OF, write=False)
    assert len(result.scores) > 0
