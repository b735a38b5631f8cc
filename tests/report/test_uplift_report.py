"""The report's uplift section reads the stored evaluation and never trains.

The campaigns are the demo's (randomized, with holdouts, in ``interactions``); the evaluations
are real :func:`assess_campaign` results on a synthetic campaign with a planted effect, stored
under the demo's campaign ids with :func:`store_evaluation`, as ``retain uplift evaluate
--store`` stores them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import retain.models.uplift.assess as assess_module
import retain.warehouse as wh
from retain.config import Settings
from retain.demo import generate
from retain.i18n import language
from retain.models.uplift import TLearner
from retain.models.uplift.assess import assess_campaign
from retain.models.uplift.campaigns import CONTROL, CampaignData
from retain.models.uplift.evaluations import store_evaluation
from retain.report import render_report
from retain.report.uplift import report_sections


@pytest.fixture
def con() -> Any:
    """A warehouse holding a small demo: five campaigns, CMP-05 the newest."""
    connection = wh.connect("duckdb://")
    generate(customers=3_000, seed=7).load(connection)
    yield connection
    connection.disconnect()


@pytest.fixture(autouse=True)
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the report must not fit a model: any attempt fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report trained a model")

    monkeypatch.setattr(assess_module, "assess_campaign", refuse)
    monkeypatch.setattr(assess_module, "make_learner", refuse)
    monkeypatch.setattr(TLearner, "fit", refuse)


def _store(con: Any, campaign_id: str, start: str, outcome: str = "retention") -> int:
    """Evaluate a synthetic campaign as ``campaign_id`` and store it; its treated count.

    ``revenue``: each customer spends about 40, treated ones with ``x0 > 0`` 25 more.
    """
    rng = np.random.default_rng(len(campaign_id))
    n = 2_000
    x = rng.normal(size=(n, 2))
    treated = rng.random(n) < 0.5
    if outcome == "revenue":
        y = 40.0 + rng.normal(scale=5.0, size=n) + np.where(treated & (x[:, 0] > 0), 25.0, 0.0)
    else:
        y = (rng.random(n) < 0.3 + np.where(treated & (x[:, 0] > 0), 0.25, 0.0)).astype(float)
    data = CampaignData(
        campaign_id=campaign_id,
        started_at=pd.Timestamp(start),
        outcome=outcome,  # type: ignore[arg-type]
        window_days=60,
        frame=pd.DataFrame(
            {
                "customer_id": [f"c{i}" for i in range(n)],
                "arm": np.where(treated, "treatment", CONTROL),
                "y": y,
                "x0": x[:, 0],
                "x1": x[:, 1],
            }
        ),
        features=("x0", "x1"),
    )
    learner = TLearner(control=CONTROL, random_state=0, n_estimators=50)
    found, _ = assess_campaign(data, learner, n_boot=20)
    store_evaluation(con, data, found, evaluated_at=pd.Timestamp("2026-01-05"))
    return int(treated.sum())


_FIT = TLearner.fit
"""The learner's own fit, for storing evaluations inside a test (the report may not fit)."""


def test_without_a_stored_evaluation_the_section_says_what_to_run(con: Any, tmp_path: Path) -> None:
    (section,) = report_sections(con, Settings(models_dir=tmp_path))
    assert section.key == "uplift" and not section.items
    assert "retain uplift evaluate --campaign CMP-05 --store" in section.summary
    with language("ja"):
        (ja,) = report_sections(con, Settings(models_dir=tmp_path))
    assert "保存されていません" in ja.summary and "CMP-05" in ja.summary


def test_the_stored_evaluation_is_shown_and_a_newer_campaign_named(
    con: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.setattr(TLearner, "fit", _FIT)
        treated = _store(con, "CMP-04", "2025-06-01")
    (section,) = report_sections(con, Settings(models_dir=tmp_path))
    assert "CMP-04" in section.summary and f"{treated:,} customers got the offer" in section.summary
    assert "retention" in section.summary
    assert "retain uplift evaluate --campaign CMP-05 --store" in section.summary  # newer
    curve, policies, deciles = section.items
    assert {trace.name for trace in curve.figure.data} == {"by predicted uplift", "random order"}
    assert policies.table is not None and deciles.table is not None
    assert len(policies.table) == 2 and len(deciles.table) == 10
    assert "Qini" in render_report([section], title="uplift", lang="en")
    with language("ko"):
        (ko,) = report_sections(con, Settings(models_dir=tmp_path))
    assert "캠페인 CMP-04" in ko.summary and "유지" in ko.summary

    with monkeypatch.context() as m:
        m.setattr(TLearner, "fit", _FIT)
        _store(con, "CMP-05", "2025-12-01")
    (newest,) = report_sections(con, Settings(models_dir=tmp_path))
    assert "CMP-05" in newest.summary and "--store" not in newest.summary


def test_a_revenue_campaigns_uplifts_are_amounts_not_percentages(
    con: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A revenue effect is an amount (about 12.5 on average here): shown as a percentage it
    # read "1,250.0%" in the deciles and the top-30 % column, beside a correct summary.
    with monkeypatch.context() as m:
        m.setattr(TLearner, "fit", _FIT)
        _store(con, "CMP-05", "2025-12-01", outcome="revenue")
    (section,) = report_sections(con, Settings(models_dir=tmp_path))
    _, policies, deciles = section.items
    assert policies.table is not None and deciles.table is not None
    shown = [*deciles.table.iloc[:, -1], *policies.table.iloc[:, -1]]
    assert shown and not any("%" in str(v) for v in shown), shown
    top = deciles.table.iloc[0, -1]  # the decile predicted to gain most: about 25 more
    assert 10 < float(str(top).split(" ")[0].replace(",", "")) < 40, top


def test_no_campaign_no_section(tmp_path: Path) -> None:
    con = wh.connect("duckdb://")
    wh.create_tables(con)
    assert report_sections(con, Settings(models_dir=tmp_path)) == []
