"""The one model registry: churn and CLV models listed, described, verified and loaded one way."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retain.config import Settings
from retain.errors import DataValidationError, NotFoundError
from retain.models.churn import ChurnClassifier, list_models, load_model, save_model
from retain.models.clv import BetaGeoModel, GammaGammaModel, StoredModels, load_models, save_models
from retain.models.clv.store import list_versions, update_meta
from retain.models.registry import (
    KINDS,
    ChurnKind,
    ClvKind,
    ModelCard,
    ModelRegistry,
    TrainingWindow,
    json_sha256,
)


def _rfm(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Customers simulated from the BG/NBD story (Poisson buying, dropout after each purchase)."""
    rng = np.random.default_rng(seed)
    horizon = 52.0
    rates, dropout = rng.gamma(0.8, 1 / 4.0, n), rng.beta(1.0, 3.0, n)
    rows = []
    for rate, p in zip(rates, dropout, strict=True):
        t, last, count = 0.0, 0.0, 0
        while (t := t + rng.exponential(1 / rate)) <= horizon:
            count, last = count + 1, t
            if rng.random() < p:
                break
        rows.append((count, last, horizon, float(rng.gamma(4.0, 10.0)) if count else 0.0))
    return pd.DataFrame(rows, columns=["frequency", "recency", "T", "monetary_value"])


@pytest.fixture(scope="module")
def clv_pair() -> dict[str, Any]:
    rfm = _rfm()
    return {
        "purchase": BetaGeoModel().fit(rfm),
        "spend": GammaGammaModel().fit(rfm[rfm["frequency"] > 0]),
    }


@pytest.fixture(scope="module")
def churn_model() -> ChurnClassifier:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    churned = (frame["a"] + rng.normal(size=400) > 0).astype(int).to_numpy()
    return ChurnClassifier(n_estimators=20, random_state=0).fit(frame, churned)


def _churn_card(version: str, trained_at: str, definition: str = "default") -> dict[str, Any]:
    return {
        "version": version,
        "kind": "churn",
        "trained_at": trained_at,
        "definition": {"name": definition, "horizon_days": 90},
        "data_window": {"start": "2023-01-01T00:00:00", "end": "2024-06-30T00:00:00"},
        "backtest": {
            "metrics": [
                {"model": "recency", "roc_auc": 0.61},
                {"model": "model", "roc_auc": 0.78, "brier": 0.12, "note": "text"},
            ]
        },
        "notes": [],
    }


def _save_churn(model: ChurnClassifier, root: Path, version: str, when: str, **kw: str) -> Path:
    return save_model(model, _churn_card(version, when, **kw), models_dir=root)


def _save_clv(pair: dict[str, Any], root: Path) -> str:
    meta = {"as_of": "2024-06-30T00:00:00", "time_unit": "W", "model": "bgnbd", "warnings": []}
    return save_models(pair, settings=Settings(models_dir=root), meta=meta)


@pytest.fixture
def both(tmp_path: Path, churn_model: ChurnClassifier, clv_pair: dict[str, Any]) -> dict[str, Any]:
    """A registry holding two churn models (older, newer) and one CLV model (newest)."""
    old = _save_churn(churn_model, tmp_path, "20240101T000000Z-aaaa", "2024-01-01T00:00:00+00:00")
    new = _save_churn(
        churn_model,
        tmp_path,
        "20240601T000000Z-bbbb",
        "2024-06-01T00:00:00+00:00",
        definition="vip",
    )
    clv = _save_clv(clv_pair, tmp_path)
    return {"root": tmp_path, "churn_old": old.name, "churn_new": new.name, "clv": clv}


def test_empty_or_missing_folder_lists_nothing(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "never-created")
    assert registry.cards() == [] and registry.cards("clv") == []
    with pytest.raises(NotFoundError, match="no churn model is registered"):
        registry.latest("churn")
    with pytest.raises(NotFoundError, match="no fitted CLV model"):
        registry.card("clv/clv-20240101T000000-abcdef")


def test_lists_every_kind_newest_first_with_unique_ids(both: dict[str, Any]) -> None:
    registry = ModelRegistry(both["root"])
    ids = [card.id for card in registry.cards()]
    assert ids == [f"clv/{both['clv']}", f"churn/{both['churn_new']}", f"churn/{both['churn_old']}"]
    assert [c.version for c in registry.cards("churn")] == [both["churn_new"], both["churn_old"]]
    assert [c.kind for c in registry.cards("clv")] == ["clv"]
    assert [c.version for c in registry.cards("churn", name="default")] == [both["churn_old"]]
    assert set(KINDS) == {"churn", "clv", "uplift"}


def test_churn_card_has_the_common_fields(both: dict[str, Any]) -> None:
    card = ModelRegistry(both["root"]).card(f"churn/{both['churn_new']}")
    assert isinstance(card, ModelCard)
    assert (card.kind, card.name, card.version, card.title) == (
        "churn",
        "vip",
        both["churn_new"],
        "churn: vip",
    )
    assert (
        card.created_at is not None and card.created_at.isoformat() == "2024-06-01T00:00:00+00:00"
    )
    assert dict(card.metrics) == {"roc_auc": 0.78, "brier": 0.12}
    assert card.window == TrainingWindow("2023-01-01T00:00:00", "2024-06-30T00:00:00")
    assert card.artifact.name == "model.pkl" and card.sha256 and card.notes == ()
    assert card.data["definition"]["horizon_days"] == 90


def test_clv_card_has_the_common_fields_and_holdout_metrics(both: dict[str, Any]) -> None:
    root, version = both["root"], both["clv"]
    card = ModelRegistry(root).card(f"clv/{version}")
    assert (card.kind, card.name, card.title) == (
        "clv",
        "BG/NBD + Gamma-Gamma",
        "clv: BG/NBD + Gamma-Gamma",
    )
    assert card.created_at is not None and card.window.end == "2024-06-30T00:00:00"
    assert card.metrics["n_customers"] == 400 and card.metrics["log_likelihood"] < 0
    assert not any(k.startswith("holdout") for k in card.metrics)
    assert card.artifact == card.path and card.sha256 == card.data["artifact_sha256"]
    rows = [
        {"quantity": "purchases", "method": "model", "mae": 0.5, "spearman": 0.6},
        {"quantity": "purchases", "method": "baseline", "mae": 0.9, "spearman": float("nan")},
    ]
    update_meta(version, settings=Settings(models_dir=root), evaluation={"metrics": rows})
    after = ModelRegistry(root).card(f"clv/{version}")
    assert after.metrics["holdout_purchases_mae"] == 0.5
    assert after.metrics["holdout_purchases_spearman"] == 0.6
    assert after.metrics["holdout_purchases_mae_baseline"] == 0.9
    assert "holdout_purchases_spearman_baseline" not in after.metrics  # NaN is no headline
    # The evaluation is signed too: the updated file still loads.
    assert ModelRegistry(root).load(after).card.sha256 == after.sha256


def test_load_both_kinds(both: dict[str, Any], churn_model: ChurnClassifier) -> None:
    registry = ModelRegistry(both["root"])
    churn = registry.load(f"churn/{both['churn_old']}")
    assert isinstance(churn.model, ChurnClassifier)
    frame = pd.DataFrame({"a": [0.5, -1.0], "b": [0.0, 0.0], "c": [1.0, 2.0]})
    np.testing.assert_allclose(churn.model.predict_proba(frame), churn_model.predict_proba(frame))
    clv = registry.load(registry.latest("clv"))
    assert isinstance(clv.model, StoredModels) and clv.model.version == both["clv"]
    assert (
        clv.model.purchase_model.params_
        == load_models(Settings(models_dir=both["root"])).purchase_model.params_
    )


def test_latest_per_kind_and_per_definition(both: dict[str, Any]) -> None:
    registry = ModelRegistry(both["root"])
    assert registry.latest("churn").version == both["churn_new"]
    assert registry.latest("churn", name="default").version == both["churn_old"]
    assert registry.latest("clv").version == both["clv"]
    assert registry.select("churn").version == both["churn_new"]
    assert registry.select("churn", both["churn_old"]).version == both["churn_old"]
    with pytest.raises(NotFoundError, match="no churn model"):
        registry.latest("churn", name="nobody")


def test_kind_views_read_through_the_registry(both: dict[str, Any]) -> None:
    root = both["root"]
    assert [c["version"] for c in list_models(models_dir=root)] == [
        both["churn_old"],
        both["churn_new"],
    ]
    assert load_model(models_dir=root).version == both["churn_new"]
    assert list_versions(Settings(models_dir=root)) == [both["clv"]]


def test_tampered_churn_pickle_is_refused_naming_the_file(both: dict[str, Any]) -> None:
    folder = both["root"] / "churn" / both["churn_old"]
    blob = (folder / "model.pkl").read_bytes()
    (folder / "model.pkl").write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    registry = ModelRegistry(both["root"])
    with pytest.raises(DataValidationError, match="does not match the SHA-256") as caught:
        registry.load(f"churn/{both['churn_old']}")
    assert str(folder / "model.pkl") in str(caught.value)
    assert caught.value.violations[0].rule == "artifact_hash"
    assert caught.value.hint is not None and "retain churn train" in caught.value.hint
    assert registry.load(f"churn/{both['churn_new']}").card.version == both["churn_new"]


def test_churn_card_without_a_digest_never_unpickles(both: dict[str, Any]) -> None:
    path = both["root"] / "churn" / both["churn_old"] / "card.json"
    card = json.loads(path.read_text())
    del card["artifact_sha256"]
    path.write_text(json.dumps(card))
    registry = ModelRegistry(both["root"])
    described = registry.card(f"churn/{both['churn_old']}")
    assert described.sha256 is None and "will not load" in described.notes[0]
    with pytest.raises(DataValidationError, match="records no SHA-256") as caught:
        registry.load(described)
    assert caught.value.violations[0].rule == "artifact_unsigned"


def test_tampered_clv_parameter_is_refused_but_reformatting_is_not(both: dict[str, Any]) -> None:
    path = both["root"] / "clv" / f"{both['clv']}.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(doc, sort_keys=True))  # other layout, same document
    registry = ModelRegistry(both["root"])
    assert registry.load(f"clv/{both['clv']}").card.sha256 == json_sha256(
        {k: v for k, v in doc.items() if k != "artifact_sha256"}
    )
    doc["models"]["purchase"]["state"]["params_"]["r"] *= 2
    path.write_text(json.dumps(doc, indent=2))
    with pytest.raises(DataValidationError, match="does not match the SHA-256") as caught:
        registry.load(f"clv/{both['clv']}")
    assert str(path) in str(caught.value)
    assert caught.value.hint is not None and "retain clv fit" in caught.value.hint
    with pytest.raises(DataValidationError, match="does not match"):
        update_meta(both["clv"], settings=Settings(models_dir=both["root"]), note="x")


def test_clv_file_written_before_digests_loads_and_says_so(both: dict[str, Any]) -> None:
    path = both["root"] / "clv" / f"{both['clv']}.json"
    doc = json.loads(path.read_text())
    del doc["artifact_sha256"]
    path.write_text(json.dumps(doc, indent=2))
    registry = ModelRegistry(both["root"])
    card = registry.card(f"clv/{both['clv']}")
    assert card.sha256 is None
    assert card.notes and "without a tamper check" in card.notes[0]
    loaded = registry.load(card)
    assert isinstance(loaded.model, StoredModels)
    update_meta(both["clv"], settings=Settings(models_dir=both["root"]), note="kept unsigned")
    assert "artifact_sha256" not in json.loads(path.read_text())


@pytest.mark.parametrize(
    ("kind", "name", "text", "reason"),
    [
        ("churn", "broken/card.json", "{not json", "not valid JSON"),
        ("churn", "list/card.json", "[1, 2]", "JSON array"),
        ("clv", "clv-20990101T000000-bad.json", '{"version": "x"}', "field models"),
        ("clv", "clv-20990101T000000-odd.json", '{"models": {"p": {}}}', "field class"),
    ],
)
def test_broken_card_is_skipped_in_listings_and_an_error_by_id(
    both: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    kind: str,
    name: str,
    text: str,
    reason: str,
) -> None:
    path = both["root"] / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    registry = ModelRegistry(both["root"])
    with caplog.at_level(logging.WARNING, logger="retain.models.registry"):
        assert len(registry.cards()) == 3
    assert str(path) in caplog.text and reason in caplog.text
    version = name.split("/")[0].removesuffix(".json")
    with pytest.raises(DataValidationError, match=reason) as caught:
        registry.card(f"{kind}/{version}")
    assert caught.value.violations[0].file == str(path)
    assert caught.value.violations[0].rule == "model_card"


def test_unknown_ids(both: dict[str, Any]) -> None:
    registry = ModelRegistry(both["root"])
    cases = {
        "no-slash": "is not a model id",
        "nope/v1": "no model kind 'nope'",
        "uplift/v1": "no uplift model is registered",
        "churn/nope": "no churn model has version nope",
        "clv/nope": "no CLV model version nope",
        "churn/../clv": "no churn model has version ../clv",
    }
    for model_id, message in cases.items():
        with pytest.raises(NotFoundError, match=message) as caught:
            registry.card(model_id)
        assert caught.value.code == "models.not_found"


def test_writes_in_progress_are_not_listed(both: dict[str, Any]) -> None:
    (both["root"] / "churn" / ".20990101T000000Z-cccc-tmp").mkdir()
    (both["root"] / "churn" / ".20990101T000000Z-cccc-tmp" / "card.json").write_text("{}")
    (both["root"] / "clv" / ".clv-20990101T000000-abcdef.json.tmp").write_text("{}")
    assert len(ModelRegistry(both["root"]).cards()) == 3


def test_a_new_kind_is_one_adapter(both: dict[str, Any]) -> None:
    """Uplift joins by one entry: a kind whose cards sit in the same layout as churn's."""

    class UpliftKind(ChurnKind):
        name = "uplift"
        command = "'retain uplift train'"

    folder = both["root"] / "uplift" / "20240701T000000Z-dddd"
    folder.mkdir(parents=True)
    (folder / "card.json").write_text(json.dumps({"name": "email-offer"}))
    registry = ModelRegistry(both["root"], kinds={**KINDS, "uplift": UpliftKind()})
    assert registry.latest("uplift").title == "uplift: email-offer"
    assert len(registry.cards()) == 4
    assert isinstance(registry.kinds["clv"], ClvKind)
