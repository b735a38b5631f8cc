"""Uplift models are stored like every model: one registry lists them and checks their digest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retain.errors import DataValidationError, NotFoundError
from retain.models.registry import ModelRegistry
from retain.models.uplift import TLearner, save_uplift_model


def _fitted() -> TLearner:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2))
    w = rng.integers(0, 2, 600)
    y = (rng.random(600) < 0.2 + 0.2 * w * (X[:, 0] > 0)).astype(int)
    return TLearner(random_state=0, min_child_samples=20).fit(X, w, y)


def test_saved_model_is_listed_and_loads_verified(tmp_path: Path) -> None:
    model = _fitted()
    card = {
        "name": "CMP-04 conversion",
        "campaign_id": "CMP-04",
        "metrics": {"qini": 0.12, "auuc": 0.05, "note": "text is not a metric"},
        "data_window": {"start": "2025-05-10", "end": "2025-07-09"},
    }
    folder = save_uplift_model(model, card, models_dir=tmp_path)
    registry = ModelRegistry(tmp_path)
    listed = registry.cards("uplift")
    assert [c.version for c in listed] == [folder.name]
    got = listed[0]
    assert got.name == "CMP-04 conversion" and got.metrics == {"qini": 0.12, "auuc": 0.05}
    assert got.window.start == "2025-05-10" and got.data["learner"] == "TLearner"
    assert got.data["arms"] == ["treatment"]
    loaded = registry.load(f"uplift/{folder.name}").model
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(loaded.predict_uplift(X), model.predict_uplift(X))


def test_tampered_or_foreign_pickles_are_refused(tmp_path: Path) -> None:
    folder = save_uplift_model(_fitted(), {"name": "x"}, models_dir=tmp_path)
    artifact = folder / "model.pkl"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    registry = ModelRegistry(tmp_path)
    with pytest.raises(DataValidationError):
        registry.load(f"uplift/{folder.name}")
    with pytest.raises(NotFoundError, match="no uplift model has version"):
        registry.load("uplift/nope")
    foreign = save_uplift_model({"not": "a learner"}, {"name": "y"}, models_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="UpliftLearner"):
        registry.load(f"uplift/{foreign.name}")
