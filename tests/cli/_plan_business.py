"""The small scored business that ``retain plan`` tests plan for, and the CLI bound to it.

``_targeting_data``'s customers a1..a5 (hand-checked churn risk and CLV) in a DuckDB warehouse,
and a ``retain.toml`` with two actions: a coupon (cost 1, assumed response 10 %) and a call
(cost 10, one a week, assumed response 30 %), one week, no holdout. A test module imports the
fixtures (``from _plan_business import db, retain_cli``) and lists them in ``__all__``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import retain.warehouse as wh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targeting"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _targeting_data as data

from _cli_runner import make_invoker

__all__ = ["CONFIG", "data", "db", "retain_cli"]

CONFIG = """
warehouse_url = "duckdb:///{db}"
database_url = "sqlite:///{app}"
[offers]
weeks = 1
holdout_share = 0.0
[[offers.actions]]
name = "coupon"
cost_per_contact = 1.0
assumed_response_rate = 0.1
[[offers.actions]]
name = "call"
kind = "call"
cost_per_contact = 10.0
capacity_per_week = 1
assumed_response_rate = 0.3
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The warehouse file: the customers with their churn and CLV scores."""
    path = tmp_path / "retain.duckdb"
    con = wh.connect(f"duckdb:///{path.as_posix()}")
    wh.create_tables(con)
    data.write(con, "customers", data.CUSTOMERS)
    data.write(con, "churn_scores", data.CHURN)
    data.write(con, "clv_scores", data.CLV)
    con.disconnect()
    return path


@pytest.fixture
def retain_cli(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``retain`` run in-process on :data:`CONFIG` over ``db`` (the app database in tmp_path)."""
    config = tmp_path / "retain.toml"
    app_db = (tmp_path / "retain-app.db").as_posix()
    config.write_text(CONFIG.format(db=db.as_posix(), app=app_db), encoding="utf-8")
    invoke: Callable[..., Any] = make_invoker(config, monkeypatch)
    return invoke
