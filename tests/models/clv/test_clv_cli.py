"""``retain clv fit | predict | evaluate`` end to end, as a user runs them.

The happy path runs in-process (typer's CliRunner) to keep the suite fast; the error boundary's
exact stderr lines and exit code are checked once through the real ``retain`` entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.errors import InvalidParameterError


@pytest.fixture
def project(tmp_path: Path, cdnow_sample_orders: pd.DataFrame, put_orders: Any) -> Path:
    (tmp_path / "retain.toml").write_text(
        f'warehouse_url = "duckdb:///{tmp_path / "shop.duckdb"}"\n'
        f'models_dir = "{tmp_path / "models"}"\n[clv]\nmargin = 0.3\n'
    )
    con = wh.connect(f"duckdb:///{tmp_path / 'shop.duckdb'}")
    wh.create_tables(con)
    put_orders(con, cdnow_sample_orders)
    con.disconnect()
    return tmp_path


@pytest.fixture
def invoke(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    return make_invoker(project / "retain.toml", monkeypatch)


def test_three_commands(invoke: Any, project: Path) -> None:
    fit = invoke("clv", "fit", "--as-of", "1997-09-30")
    assert fit.exit_code == 0, fit.output
    assert fit.stdout.startswith("Fitted BG/NBD on 2,357 customers with orders up to Sep 30, 1997")
    assert "│ r         │   0.2426 │" in fit.stdout

    predict = invoke("clv", "predict", "--top", "3")
    assert predict.exit_code == 0, predict.output
    assert predict.stdout.startswith("Scored 2,357 customers: total CLV $")
    assert "written to clv_scores" in predict.stdout

    charts = project / "charts.html"
    evaluate = invoke(
        "clv",
        "evaluate",
        "--calibration-end",
        "1997-09-30",
        "--holdout-end",
        "1998-06-30",
        "--output",
        str(charts),
    )
    assert evaluate.exit_code == 0, evaluate.output
    assert "Holdout accuracy per customer" in evaluate.stdout
    assert f"Wrote the charts to {charts}." in evaluate.stdout.replace("\n", "")
    assert charts.read_text().count("plotly-graph-div") >= 2


def test_bad_date_is_a_translated_parameter_error(invoke: Any) -> None:
    result = invoke("--lang", "ja", "clv", "fit", "--as-of", "30/09/1997")
    assert isinstance(result.exception, InvalidParameterError)
    assert result.exception.message == (
        "--as-of は日付（YYYY-MM-DD）である必要があります。指定値: '30/09/1997'"
    )


def test_error_boundary_prints_one_line_and_a_hint(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    out = subprocess.run(
        [sys.executable, "-m", "retain", "clv", "predict"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=300,
    )
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"Error: no fitted CLV model in {project / 'models' / 'clv'}",
        "Hint: run 'retain clv fit' first",
    ]


def test_tables_fit_80_columns_in_japanese_with_locale_numbers(
    invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#16 item 7: no cell cut to "…" at 80 columns; customer counts grouped (1,234)."""
    from retain.cli._app import console

    monkeypatch.setattr(console, "_width", 80)
    assert invoke("clv", "fit", "--as-of", "1997-09-30").exit_code == 0
    evaluate = invoke("--lang", "ja", "clv", "evaluate", "--calibration-end", "1997-09-30")
    assert evaluate.exit_code == 0, evaluate.output
    lines = evaluate.stdout.splitlines()
    assert "…" not in evaluate.stdout
    assert all(len(line) <= 80 for line in lines if line.startswith(("│", "┃")))
    assert "過去のペースが続く" in evaluate.stdout and "リピート購入回数" in evaluate.stdout
    counts = [line.split("│")[2].strip() for line in lines if line.startswith("│ ") and "│" in line]
    assert any("," in c for c in counts)  # the calibration-frequency 0 row: "1,4xx" customers
