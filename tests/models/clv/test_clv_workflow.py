"""fit_clv, score_clv, evaluate_clv on a DuckDB warehouse; the model store; report_sections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import retain.warehouse as wh
from retain.config import Settings
from retain.errors import NotFoundError
from retain.models.clv import (
    evaluate_clv,
    fit_clv,
    list_versions,
    load_models,
    score_clv,
)
from retain.report.clv import report_sections
from retain.report.section import Section


@pytest.fixture
def conf(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path / "models", currency="USD")


@pytest.fixture
def shop(warehouse: Any, cdnow_sample_orders: pd.DataFrame, put_orders: Any) -> Any:
    put_orders(warehouse, cdnow_sample_orders)
    return warehouse


def test_fit_store_score_and_report(shop: Any, conf: Settings) -> None:
    assert report_sections(shop, conf) == []
    with pytest.raises(NotFoundError, match="no fitted CLV model"):
        score_clv(shop, settings=conf)

    stored = fit_clv(shop, settings=conf, as_of="1997-09-30")
    # Same data as FHL (2005): the stored BG/NBD has the paper's parameters.
    assert stored.purchase_model.params_["r"] == pytest.approx(0.243, abs=1e-3)
    assert list_versions(conf) == [stored.version]
    doc = json.loads((conf.models_dir / "clv" / f"{stored.version}.json").read_text())
    assert doc["models"]["purchase"]["class"] == "BetaGeoModel"
    again = load_models(conf)
    assert again.purchase_model.params_ == stored.purchase_model.params_
    assert again.spend_model.params_ == stored.spend_model.params_

    scores = score_clv(shop, settings=conf)
    assert len(scores) == 2357
    assert set(scores["model_version"]) == {stored.version}
    assert (scores["clv"] >= 0).all()
    assert scores["as_of"].iloc[0] == pd.Timestamp("1997-09-30")
    # Scoring twice replaces the rows of the same as_of and version instead of duplicating them.
    score_clv(shop, settings=conf)
    table = wh.read_table(shop, "clv_scores")
    assert table.count().execute() == 2357
    assert set(table.schema().names) >= {"customer_id", "clv", "probability_alive", "currency"}

    sections = report_sections(shop, conf)
    assert len(sections) == 1
    section = sections[0]
    assert isinstance(section, Section)
    assert section.key == "clv"
    assert "2,357 customers" in section.summary
    assert len(section.items) == 2  # no evaluation yet


def test_evaluate_attaches_diagnostics_to_the_stored_model(shop: Any, conf: Settings) -> None:
    fit_clv(shop, settings=conf, as_of="1997-09-30")
    score_clv(shop, settings=conf)
    result = evaluate_clv(
        shop, settings=conf, calibration_end="1997-09-30", holdout_end="1998-06-30"
    )
    purchases = result.metrics.set_index(["quantity", "method"])
    # CDNOW sample holdout: 1,882 repeat purchase days actually happened.
    assert purchases.loc[("purchases", "model"), "total_actual"] == 1882
    assert (
        purchases.loc[("purchases", "model"), "mae"]
        < purchases.loc[("purchases", "baseline"), "mae"]
    )
    assert list(result.by_frequency["calibration_frequency"])[-1] == "7+"
    assert result.by_frequency["customers"].sum() == 2357
    tracking = result.tracking
    assert tracking["period"].iloc[-1] == 78  # 1997-01-01 .. 1998-06-30 is 77.6 weeks
    assert tracking["actual"].is_monotonic_increasing
    assert tracking.loc[~tracking["holdout"], "actual"].iloc[-1] == 2457  # calibration repeats
    sections = report_sections(shop, conf)
    assert len(sections[0].items) == 4
    assert all(item.reading for item in sections[0].items)
