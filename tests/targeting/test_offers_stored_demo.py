"""The stored plan on a small demo: its 95 % interval is there and holds the planted truth.

A 3,000-customer demo goes through :func:`run_demo_pipeline` in process, as
``tests/demo/test_demo_pipeline_uplift.py`` runs it: the pipeline's uplift step stores each
planner action's uplift (``uplift_scores``), valued by measured score groups with their
variances. The plan built from that stored uplift reports an interval. For the planted
campaign (CMP-04, a 20 % coupon, ``coupon_20``) the demo knows each customer's outcome with and
without the offer (``y0``, ``y1``), so the true profit of a plan of the stored coupon_20 uplift
over CMP-04's customers is sum((y1 - y0) x CLV - discount x order value x y1 - contact): the
interval must hold it. (These customers taught the stored model, so the check is kind to the
plan; the leak-free check on a large demo is ``tests/targeting/test_offers_demo.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
from rich.console import Console

import retain.warehouse as wh
from retain.cli._pipeline import DEMO_CHURN, run_demo_pipeline
from retain.config import Settings
from retain.demo import generate
from retain.models.uplift.scores import stored_uplift
from retain.targeting.offers import plan_from_warehouse, plan_offers, planning_customers

pytestmark = pytest.mark.slow

SEED = 11
"""The demo's seed (the same 3,000-customer demo as the pipeline's uplift test)."""


@dataclass
class StoredDemo:
    settings: Settings
    truth: pd.DataFrame
    """CMP-04's customers (index) with ``y0``, ``y1``."""


@pytest.fixture(scope="module")
def stored_demo(tmp_path_factory: pytest.TempPathFactory) -> StoredDemo:
    tmp = tmp_path_factory.mktemp("stored-demo")
    settings = Settings(
        warehouse_url=f"duckdb:///{(tmp / 'retain.duckdb').as_posix()}",
        database_url=f"sqlite:///{(tmp / 'app.db').as_posix()}",
        models_dir=tmp / "models",
        churn=list(DEMO_CHURN),
    )
    con = wh.connect(settings=settings)
    demo = generate(customers=3_000, seed=SEED)
    demo.load(con)
    try:
        run_demo_pipeline(
            con, settings, Console(record=True, width=200), report_path=tmp / "r.html"
        )
    finally:
        con.disconnect()
    rows = demo.truth.campaign_customers
    return StoredDemo(settings, rows[rows["campaign_id"] == "CMP-04"].set_index("customer_id"))


def test_the_stored_plan_reports_its_interval(stored_demo: StoredDemo) -> None:
    """The plan the dashboard, the API and `retain plan` build from the stored uplift."""
    con = wh.connect(settings=stored_demo.settings)
    try:
        stored = stored_uplift(con)
        plan = plan_from_warehouse(
            con, budget=1_000.0, definition="shop", settings=stored_demo.settings.offers
        )
    finally:
        con.disconnect()
    assert stored is not None and not stored.unmeasured
    assert stored.frame["honest_variance"].gt(0).all()
    assert stored.frame["honest_group"].notna().all()
    s = plan.summary
    assert plan.source is not None and "coupon_20: campaign CMP-04" in plan.source
    assert s.profit_low is not None and s.profit_high is not None
    assert s.profit_low < s.expected_profit < s.profit_high


@pytest.mark.parametrize("budget", [50.0, 1e9])
def test_the_interval_holds_the_planted_campaigns_true_profit(
    stored_demo: StoredDemo, budget: float
) -> None:
    """CMP-04's customers planned with the stored coupon_20 uplift alone, judged by y0/y1."""
    settings, rows = stored_demo.settings, stored_demo.truth
    con = wh.connect(settings=settings)
    try:
        stored = stored_uplift(con)
        customers = planning_customers(con, definition="shop")
    finally:
        con.disconnect()
    assert stored is not None
    customers = customers[customers["customer_id"].isin(rows.index)].reset_index(drop=True)
    action = next(a for a in settings.offers.candidate_actions() if a.name == "coupon_20")
    conf = settings.offers.model_copy(update={"actions": [action], "holdout_share": 0.0})
    uplift = stored.frame[stored.frame["action"] == "coupon_20"]
    plan = plan_offers(customers, budget=budget, settings=conf, uplift=uplift)
    chosen = (
        customers["customer_id"]
        .isin(plan.decisions.loc[plan.decisions["status"] == "target", "customer_id"])
        .to_numpy()
    )
    truth = rows.reindex(customers["customer_id"])
    y0, y1 = truth["y0"].to_numpy(float), truth["y1"].to_numpy(float)
    spend = action.discount_share * customers["order_value"].to_numpy()
    true = (y1 - y0) * customers["clv"].to_numpy() - spend * y1 - action.cost_per_contact
    profit = float(true[chosen].sum())
    low, high = plan.summary.profit_low, plan.summary.profit_high
    print(
        f"seed {SEED} budget {budget}: expected {plan.summary.expected_profit:.1f} "
        f"[{low}, {high}], true {profit:.1f}, {int(chosen.sum())} of {len(chosen)} chosen"
    )
    assert chosen.any()
    assert low is not None and high is not None
    assert low <= profit <= high
