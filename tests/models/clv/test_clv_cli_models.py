"""``retain clv fit --model auto | bgbb | sbg`` as a user runs them; subscribers in predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

import retain.warehouse as wh
from _cli_runner import make_invoker


def _project(tmp_path: Path) -> tuple[Path, Any]:
    (tmp_path / "retain.toml").write_text(
        f'warehouse_url = "duckdb:///{tmp_path / "shop.duckdb"}"\n'
        f'models_dir = "{tmp_path / "models"}"\ncurrency = "USD"\n'
    )
    con = wh.connect(f"duckdb:///{tmp_path / 'shop.duckdb'}")
    wh.create_tables(con)
    return tmp_path, con


def _subscriptions(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    tenure = rng.integers(0, 36, n)
    gone = rng.random(n) < 0.25
    return pd.DataFrame(
        {
            "subscription_id": [f"S{i}" for i in range(n)],
            "customer_id": [f"T{i}" for i in range(n)],
            "plan": "Month-to-month",
            "billing_period": "month",
            "amount": 30.0,
            "started_at": [
                pd.Timestamp("2019-09-01") - pd.DateOffset(months=int(m)) for m in tenure
            ],
            "ended_at": [pd.Timestamp("2019-09-30") if g else pd.NaT for g in gone],
        }
    )


def _put(con: Any, name: str, frame: pd.DataFrame) -> None:
    schema = wh.read_table(con, name).schema()
    out = frame.copy()
    for column in schema.names:
        if column not in out:
            out[column] = None
    wh.write_table(con, name, ibis.memtable(out[list(schema.names)]).cast(schema).to_pyarrow())


def test_a_subscription_only_business(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, con = _project(tmp_path)
    _put(con, "subscriptions", _subscriptions())
    con.disconnect()
    invoke = make_invoker(project / "retain.toml", monkeypatch)
    fit = invoke("clv", "fit")
    assert fit.exit_code == 0, fit.output
    assert "Fitted sBG renewal models on 200 subscriptions in 1 plans up to Sep 30, 2019" in (
        fit.stdout.replace("\n", " ")
    )
    assert "Month-to-month" in fit.stdout and "First renewal rate" in fit.stdout
    assert "No orders: only subscribers are valued" in fit.output
    predict = invoke("clv", "predict", "--top", "3")
    assert predict.exit_code == 0, predict.output
    assert predict.stdout.startswith("Scored 200 customers")
    assert "200 of them are subscribers" in predict.stdout


def test_bgbb_and_auto_on_orders(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cdnow_sample_orders: pd.DataFrame,
    put_orders: Any,
) -> None:
    project, con = _project(tmp_path)
    put_orders(con, cdnow_sample_orders)
    con.disconnect()
    invoke = make_invoker(project / "retain.toml", monkeypatch)
    bgbb = invoke("clv", "fit", "--model", "bgbb", "--as-of", "1997-09-30")
    assert bgbb.exit_code == 0, bgbb.output
    assert bgbb.stdout.startswith("Fitted BG/BB on 2,357 customers")
    assert "│ gamma" in bgbb.stdout
    assert invoke("clv", "predict").exit_code == 0
    # Evaluating BG/NBD while only BG/BB is stored saves nothing, and says so.
    evaluate = invoke("clv", "evaluate", "--calibration-end", "1997-09-30", "--model", "bgnbd")
    assert evaluate.exit_code == 0, evaluate.output
    assert "Not saved: no fitted version uses BG/NBD" in evaluate.stdout.replace("\n", " ")
    auto = invoke("clv", "fit", "--model", "auto", "--as-of", "1998-06-30")
    assert auto.exit_code == 0, auto.output
    assert "Model choice:" in auto.stdout and "chosen" in auto.stdout
    assert ".py" not in auto.output  # no raw Python warning with its source path
