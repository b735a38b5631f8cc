"""``retain churn train | evaluate | score | list`` end to end on the synthetic shop.

The happy path runs in-process (typer's CliRunner); the error boundary's stderr lines and exit
code are checked once through the real ``retain`` entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

import retain.warehouse as wh
from _cli_runner import make_invoker


@pytest.fixture
def project(tmp_path: Path, shop: Any) -> Path:
    from _churn_shop import load_tables

    (tmp_path / "retain.toml").write_text(
        f'warehouse_url = "duckdb:///{tmp_path / "shop.duckdb"}"\n'
        f'models_dir = "{tmp_path / "models"}"\n'
        '[[churn]]\nname = "shop"\nkind = "non_contractual"\nhorizon_days = 60\n'
    )
    con = wh.connect(f"duckdb:///{tmp_path / 'shop.duckdb'}")
    wh.create_tables(con)
    load_tables(con, shop)
    con.disconnect()
    return tmp_path


@pytest.fixture
def invoke(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    return make_invoker(project / "retain.toml", monkeypatch)


def test_train_evaluate_score_list(invoke: Any, project: Path) -> None:
    train = invoke("churn", "train", "--test-dates", "1")
    assert train.exit_code == 0, train.output
    assert train.stdout.startswith("Registered churn model ")
    assert "from 14 reference dates" in train.stdout
    assert "logistic regression" in train.stdout and "recency rule" in train.stdout
    # The candidates side by side, and the champion with the reason it won.
    assert "Candidates" in train.stdout and "boosted trees (LightGBM)" in train.stdout
    assert "average of both (log-odds)" in train.stdout
    assert "Champion: " in train.stdout

    evaluate = invoke("churn", "evaluate", "--format", "json")
    assert evaluate.exit_code == 0, evaluate.output
    payload = json.loads(evaluate.stdout)
    assert payload["definition"]["name"] == "shop"
    assert [m["model"] for m in payload["metrics"]] == ["model", "recency", "logistic", "bgnbd"]
    assert all(0.5 < m["roc_auc"] <= 1 for m in payload["metrics"])
    assert "rolling origins" in payload["protocol"]
    champion = payload["champion"]
    assert [c["candidate"] for c in champion["candidates"]] == ["logistic", "average", "trees"]
    assert champion["chosen"] in {"logistic", "average", "trees"} and champion["reason"]

    table = invoke("--lang", "ja", "churn", "evaluate")
    assert table.exit_code == 0, table.output
    assert "時系列での評価" in table.stdout and "ロジスティック回帰" in table.stdout

    unknown = invoke("churn", "score", "--definition", "nope")
    assert unknown.exit_code != 0
    by_line = invoke("churn", "score", "--definition", "shop")
    assert by_line.exit_code == 0, by_line.output
    score = invoke("churn", "score")
    assert score.exit_code == 0, score.output
    assert score.stdout.startswith("Scored 600 customers as of 2024-06-30 with model ")
    # The top ten with their reasons; a model scored the day it was trained shows no drift.
    assert "Customers most at risk (top 10 of 600)" in score.stdout
    assert "Drift:" not in score.stdout
    con = wh.connect(f"duckdb:///{project / 'shop.duckdb'}")
    assert wh.read_table(con, "churn_scores").count().execute() == 600
    floored = [json.loads(r) for r in wh.read_table(con, "churn_scores").reasons.execute()]
    con.disconnect()
    assert all(x["contribution"] > 0.05 for rs in floored for x in rs)

    every = invoke("churn", "score", "--min-contribution", "0")
    assert every.exit_code == 0, every.output
    con = wh.connect(f"duckdb:///{project / 'shop.duckdb'}")
    unfloored = [json.loads(r) for r in wh.read_table(con, "churn_scores").reasons.execute()]
    con.disconnect()
    assert sum(map(len, unfloored)) > sum(map(len, floored))
    for bad in ("-1", "nan", "inf"):
        refused = invoke("churn", "score", "--min-contribution", bad)
        assert refused.exit_code == 2, (bad, refused.output)

    none = invoke("churn", "score", "--top", "0")
    assert none.exit_code == 0 and "most at risk" not in none.stdout

    listing = invoke("churn", "list")
    assert listing.exit_code == 0 and payload["version"] in listing.stdout


def test_no_model_is_a_clear_error_on_stderr(project: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    retain = Path(sys.executable).parent / "retain"
    out = subprocess.run(
        [str(retain), "--config", str(project / "retain.toml"), "churn", "evaluate"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[0] == f"Error: no churn model is registered under {project / 'models' / 'churn'}"
    assert lines[1] == "Hint: train one first: 'retain churn train'"


def test_score_prints_the_top_customers_readably_at_80_columns(
    invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retain.cli._app import console

    assert invoke("churn", "train", "--no-evaluate").exit_code == 0
    monkeypatch.setattr(console, "width", 80)
    for lang, title in (("en", "most at risk"), ("ja", "リスクの高い顧客"), ("ko", "위험도가")):
        out = invoke("--lang", lang, "churn", "score", "--top", "3", "--reasons", "2")
        assert out.exit_code == 0, out.output
        lines = out.stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if title in line)
        table = lines[start:]
        assert max(cell_len(line) for line in table) <= 80
        rows = [line for line in table if line.startswith("│") and "C0" in line]
        assert len(rows) == 3  # three customers, ids start their first line
        assert "reasons." not in out.stdout and "{" not in out.stdout
