"""The demo pipeline stores uplift from the demo's randomized campaigns; the plan uses it.

A small demo (3,000 customers) run through :func:`run_demo_pipeline` in process: afterwards
``uplift_scores`` holds one scoring per planner action that a campaign offered (the newest
campaign of each offer: CMP-04 for coupon_20, not CMP-02), the planner and the report's
"Offer plan" name that history, and the step is timed and summarised like the others.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

import retain.warehouse as wh
from retain.cli._pipeline import DEMO_CHURN, run_demo_pipeline
from retain.config import Settings
from retain.demo import generate
from retain.models.uplift.evaluations import stored_evaluation
from retain.targeting.offers import plan_from_warehouse


@pytest.mark.slow
def test_pipeline_stores_uplift_and_the_plan_and_report_use_it(tmp_path: Path) -> None:
    db = tmp_path / "retain.duckdb"
    settings = Settings(
        warehouse_url=f"duckdb:///{db.as_posix()}",
        database_url=f"sqlite:///{(tmp_path / 'app.db').as_posix()}",
        models_dir=tmp_path / "models",
        churn=list(DEMO_CHURN),
    )
    con = wh.connect(settings=settings)
    generate(customers=3_000, seed=11).load(con)
    console = Console(record=True, width=200)
    result = run_demo_pipeline(con, settings, console, report_path=tmp_path / "report.html")

    stored = wh.read_table(con, "uplift_scores").to_pandas()
    runs = stored.groupby("action")["campaign_id"].unique().to_dict()
    assert {a: list(c) for a, c in runs.items()} == {
        "coupon_10": ["CMP-01"],
        "coupon_20": ["CMP-04"],
        "free_shipping": ["CMP-03"],
        "reminder": ["CMP-05"],
    }
    assert not stored.duplicated(["action", "customer_id"]).any()
    assert {r["action"] for r in result.uplift} == set(runs)
    print("pipeline seconds:", {k: round(v, 1) for k, v in result.seconds.items()})
    # every randomized campaign is evaluated once, for the Uplift page and the API
    evaluations = wh.read_table(con, "uplift_evaluations").to_pandas()
    assert sorted(evaluations["campaign_id"]) == ["CMP-01", "CMP-02", "CMP-03", "CMP-04", "CMP-05"]
    newest = stored_evaluation(con, "CMP-05")
    assert newest is not None and newest.n_test > 0
    assert set(newest.policies["policy"]) == {"model", "churn_risk", "random"}
    assert len(newest.deciles) == 10 and len(newest.curves) == 3 * 101

    plan = plan_from_warehouse(con, budget=1_000.0, definition="shop", settings=settings.offers)
    assert not plan.heuristic
    assert plan.source is not None and "coupon_20: campaign CMP-04" in plan.source
    chosen = set(plan.decisions.loc[plan.decisions["status"] == "target", "action"])
    assert chosen and chosen <= set(runs)

    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Uplift source:" in report and "campaign CMP-04" in report
    assert "No campaign history" not in report
    text = console.export_text()
    assert "Uplift: coupon_20" in text and "CMP-04" in text
    con.disconnect()
