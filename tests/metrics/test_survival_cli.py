"""``retain metrics survival`` on a line with no completed activity prints an empty result
(#21) instead of failing inside the estimator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from metric_tables import load, orders_frame
from typer.testing import CliRunner

import retain.warehouse as wh
from retain.cli import app
from retain.cli._app import state


@pytest.fixture
def cancelled_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "empty.duckdb"
    con = wh.connect(f"duckdb:///{path}")
    wh.create_tables(con)
    load(con, "orders", orders_frame([("a", "2024-01-05", 10.0, "cancelled")]))
    con.disconnect()
    monkeypatch.setenv("RETAIN_WAREHOUSE_URL", f"duckdb:///{path}")
    monkeypatch.setattr(state, "_settings", None)


@pytest.mark.usefixtures("cancelled_only")
@pytest.mark.parametrize("extra", [[], ["--by", "country"]])
def test_survival_without_completed_orders_is_empty(extra: list[str]) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["metrics", "survival", "--activity", "orders", *extra])
    assert table.exit_code == 0, table.output
    assert "Median lifetime" in table.output
    out = runner.invoke(app, ["metrics", "survival", "--activity", "orders", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == []
