"""``retain uplift campaigns|evaluate|train`` on a small demo business, in every format."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.demo import generate
from retain.errors import InvalidParameterError, NotFoundError
from retain.models.registry import ModelRegistry
from retain.targeting.offers import ERROR_COLUMNS, UPLIFT_COLUMNS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _cli_runner import make_invoker

CONFIG = """
warehouse_url = "duckdb:///{db}"
models_dir = "{models}"
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("uplift-cli")
    db = root / "retain.duckdb"
    con = wh.connect(f"duckdb:///{db.as_posix()}")
    generate(customers=4_000, seed=11).load(con)
    con.disconnect()
    config = root / "retain.toml"
    models = (root / "models").as_posix()
    config.write_text(CONFIG.format(db=db.as_posix(), models=models), encoding="utf-8")
    return config


@pytest.fixture
def retain_cli(project: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    return make_invoker(project, monkeypatch)


def test_campaigns_lists_the_randomized_ones(retain_cli: Callable[..., Any]) -> None:
    result = retain_cli("uplift", "campaigns", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["campaign_id"] for r in rows] == ["CMP-01", "CMP-02", "CMP-03", "CMP-04", "CMP-05"]
    assert all(r["n_control"] > 0 and r["n_treated"] > 0 for r in rows)
    table = retain_cli("uplift", "campaigns")
    assert table.exit_code == 0 and "CMP-05" in table.output


def test_evaluate_json_reports_policies_and_deciles(retain_cli: Callable[..., Any]) -> None:
    args = ("uplift", "evaluate", "--campaign", "CMP-04", "--outcome", "conversion")
    result = retain_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["campaign_id"] == "CMP-04" and out["window_days"] == 60
    assert out["learner"] == "TLearner" and "model_id" not in out
    policies = {p["policy"] for p in out["policies"]}
    assert policies == {"model", "random"}  # no churn model registered: risk is left out
    assert (
        out["n_train"] + out["n_test"]
        == out["effects"][0]["n_treated"] + out["effects"][0]["n_control"]
    )
    assert [d["decile"] for d in out["deciles"]] == list(range(1, 11))
    for p in out["policies"]:
        assert p["qini_low"] <= p["qini"] <= p["qini_high"]
    table = retain_cli(*args, "--learner", "s")
    assert table.exit_code == 0, table.output
    assert "SLearner" in table.output and "retain churn train" in table.output


def test_train_stores_a_model_the_registry_loads(
    retain_cli: Callable[..., Any], project: Path
) -> None:
    result = retain_cli("uplift", "train", "--learner", "x", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["campaign_id"] == "CMP-05"  # the newest by default
    registry = ModelRegistry(project.parent / "models")
    card = registry.card(out["model_id"])
    assert card.data["campaign_id"] == "CMP-05" and card.data["learner"] == "XLearner"
    assert set(card.metrics) == {"qini_treatment", "auuc_treatment", "uplift_at_treatment"}
    model = registry.load(card).model
    assert model.arms_ == ["treatment"]


def test_unknown_campaign_is_a_clear_error(retain_cli: Callable[..., Any]) -> None:
    result = retain_cli("uplift", "evaluate", "--campaign", "NOPE")
    assert isinstance(result.exception, NotFoundError)
    assert "'NOPE'" in result.exception.message
    assert "retain uplift campaigns" in str(result.exception.hint)


def test_score_writes_the_planners_uplift_file(
    retain_cli: Callable[..., Any], tmp_path: Path
) -> None:
    target = tmp_path / "uplift.csv"
    result = retain_cli(
        "uplift", "score", "--campaign", "CMP-04", "--action", "treatment=coupon",
        "--as-of", "2025-12-01", "--output", str(target),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(target, dtype={"customer_id": str})
    # the measured group and its variance travel with it: the plan's interval (#18)
    assert list(frame.columns) == [*UPLIFT_COLUMNS, *ERROR_COLUMNS]
    assert (frame["honest_variance"] > 0).all() and frame["honest_group"].notna().all()
    assert set(frame["action"]) == {"coupon"} and frame["customer_id"].is_unique
    assert frame[["uplift", "uplift_honest"]].notna().all().all()
    assert not np.allclose(frame["uplift"], frame["uplift_honest"])
    bad = retain_cli("uplift", "score", "--action", "nope=x", "--output", str(target))
    assert isinstance(bad.exception, InvalidParameterError)


def test_score_stores_the_uplift_named_by_the_campaigns_offer(
    retain_cli: Callable[..., Any], project: Path
) -> None:
    """Without ``--output`` the uplift goes to ``uplift_scores``, as the demo's offer names it."""
    result = retain_cli("uplift", "score", "--campaign", "CMP-04", "--as-of", "2025-12-01")
    assert result.exit_code == 0, result.output
    assert "CMP-04" in result.output and "coupon_20" in result.output
    db = project.parent / "retain.duckdb"
    con = wh.connect(f"duckdb:///{db.as_posix()}")
    try:
        rows = wh.read_table(con, "uplift_scores").to_pandas()
    finally:
        con.disconnect()
    # (The --output test above stored its own "coupon" action too; each is its own scope.)
    stored = rows[(rows["campaign_id"] == "CMP-04") & (rows["action"] == "coupon_20")]
    assert len(stored) > 1000 and stored["customer_id"].is_unique
    assert stored["model_version"].nunique() == 1
    assert (stored["as_of"] == pd.Timestamp("2025-12-01")).all()
    assert not np.allclose(stored["uplift"], stored["uplift_honest"])


def test_evaluate_store_keeps_the_evaluation_for_the_page(
    retain_cli: Callable[..., Any], project: Path
) -> None:
    from retain.models.uplift.evaluations import list_evaluations, stored_evaluation

    args = ("uplift", "evaluate", "--campaign", "CMP-03", "--store", "--format", "json")
    result = retain_cli(*args)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    db = project.parent / "retain.duckdb"
    con = wh.connect(f"duckdb:///{db.as_posix()}")
    try:
        assert "CMP-03" in set(list_evaluations(con)["campaign_id"])
        found = stored_evaluation(con, "CMP-03")
    finally:
        con.disconnect()
    assert found is not None and found.n_test == shown["n_test"]
    model = found.policies[found.policies["policy"] == "model"].iloc[0]
    want = next(p for p in shown["policies"] if p["policy"] == "model")
    assert model["qini"] == pytest.approx(want["qini"], abs=1e-5)
    assert len(found.deciles) == len(shown["deciles"])
