"""``retain plan --campaign``: uplift learned from a demo campaign's random holdout."""

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
from retain.config import Settings
from retain.demo import generate
from retain.errors import InvalidParameterError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _cli_runner import make_invoker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4,000-customer demo in DuckDB with churn and CLV scores at its end."""
    root = tmp_path_factory.mktemp("plan-campaign")
    db = root / "retain.duckdb"
    url = f"duckdb:///{db.as_posix()}"
    demo = generate(customers=4000, seed=7)
    con = wh.connect(url)
    wh.create_tables(con)
    demo.load(con, settings=Settings(warehouse_url=url))
    end = pd.Timestamp(demo.tables["orders"]["ordered_at"].max()).normalize()
    ids = demo.tables["customers"]["customer_id"].astype(str).to_numpy()
    rng = np.random.default_rng(0)
    wh.write_table(
        con,
        "churn_scores",
        pd.DataFrame(
            {
                "customer_id": ids,
                "as_of": end,
                "definition": "default",
                "probability": rng.uniform(0.05, 0.95, ids.size),
                "risk_band": "medium",
                "reasons": "[]",
                "model_version": "1",
                "scored_at": end,
            }
        ),
        mode="append",
    )
    wh.write_table(
        con,
        "clv_scores",
        pd.DataFrame(
            {
                "customer_id": ids,
                "as_of": end,
                "model_version": "1",
                "clv": rng.gamma(2.0, 60.0, ids.size),
                "expected_spend": rng.gamma(3.0, 30.0, ids.size),
                "currency": "USD",
            }
        ),
        mode="append",
    )
    con.disconnect()
    (root / "retain.toml").write_text(f'warehouse_url = "{url}"\n', encoding="utf-8")
    return root


@pytest.fixture
def retain_cli(project: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    invoke: Callable[..., Any] = make_invoker(project / "retain.toml", monkeypatch)
    return invoke


def test_campaign_uplift_makes_a_history_plan(retain_cli: Callable[..., Any]) -> None:
    out = retain_cli("plan", "--budget", "500", "--campaign", "CMP-04=coupon_20", "-f", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["uplift_source"] == "history"
    assert doc["assumed_response_rates"] == {}
    rows = pd.DataFrame(doc["decisions"])
    targets = rows[rows["status"] == "target"]
    assert len(targets) > 0
    assert set(targets["action"]) == {"coupon_20"}  # only the learned action has estimates
    assert rows.loc[rows["action"] == "nothing", "uplift"].isna().all()
    # Chosen on one half's model, valued on the other's: the two estimates differ.
    assert (targets["uplift"] != targets["uplift_honest"]).mean() > 0.9
    assert doc["summary"]["naive_profit"] != doc["summary"]["expected_profit"]


def test_bad_campaign_option(retain_cli: Callable[..., Any]) -> None:
    out = retain_cli("plan", "--budget", "5", "--campaign", "CMP-04")
    assert isinstance(out.exception, InvalidParameterError)
    assert "CAMPAIGN=ACTION" in out.exception.message
