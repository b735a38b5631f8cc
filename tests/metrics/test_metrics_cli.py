"""``retain metrics ...`` and ``retain report``: formats, files, and errors at the boundary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from metric_tables import load, orders_frame
from typer.testing import CliRunner

import retain.warehouse as wh
from retain.cli import app
from retain.cli._app import state
from retain.errors import InvalidParameterError

ROOT = Path(__file__).resolve().parents[2]
ORDERS = [
    ("a", "2024-01-05", 10.0),
    ("a", "2024-02-20", 20.0),
    ("b", "2024-01-10", 5.0),
    ("c", "2024-02-01", 7.0),
]


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "cli.duckdb"
    con = wh.connect(f"duckdb:///{path}")
    wh.create_tables(con)
    load(con, "orders", orders_frame(ORDERS))
    load(
        con,
        "subscriptions",
        pd.DataFrame(
            {
                "subscription_id": ["1", "2", "3"],
                "customer_id": ["a", "b", "c"],
                "plan": ["x", "x", "y"],
                "started_at": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-09"]),
                "ended_at": pd.to_datetime(["2024-03-01", None, "2024-02-01"]),
                "amount": [5.0, 5.0, 9.0],
            }
        ),
    )
    con.disconnect()
    monkeypatch.setenv("RETAIN_WAREHOUSE_URL", f"duckdb:///{path}")
    monkeypatch.setattr(state, "_settings", None)
    return f"duckdb:///{path}"


def run(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_periods_csv_has_the_issue_columns(url: str) -> None:
    out = run("metrics", "periods", "--period", "month", "--format", "csv").output
    header, jan, feb = out.strip().splitlines()
    assert header.startswith(
        "period_start,customers_start,customers_end,new_customers,lost_customers,"
        "reactivated_customers,churn_rate,retention_rate"
    )
    assert jan.startswith("2024-01-01,0,2,2,0,0,,")
    assert feb.startswith("2024-02-01,2,2,1,1,0,50.0,50.0")


def test_cohorts_json_parquet_file_and_table(url: str, tmp_path: Path) -> None:
    rows = json.loads(run("metrics", "cohorts", "--kind", "revenue", "--format", "json").output)
    assert rows[0] == {
        "cohort": "2024-01-01T00:00:00.000",
        "period_index": 0,
        "cohort_size": 2,
        "active": 2,
        "value": 15.0,
        "revenue": 15.0,
        "cumulative_revenue_per_customer": 7.5,
    }
    target = tmp_path / "cohorts.parquet"
    out = run(
        "metrics", "cohorts", "--mode", "unbounded", "--format", "parquet", "-o", str(target)
    ).output
    assert "Wrote 3 rows" in out
    assert pd.read_parquet(target).active.tolist() == [2, 1, 1]
    table = run("metrics", "lifecycle").output
    assert "Lifecycle (churned after 90 days" in table and "Resurrected" in table
    assert "new_mrr" in run("metrics", "mrr", "--format", "csv").output
    survival = run("metrics", "survival", "--by", "plan").output
    assert "Log-rank test across plan" in survival
    counts = run("metrics", "survival", "--format", "csv", "--columns", "at_risk").output
    assert "." not in counts.split("\n", 1)[1]  # counts are whole numbers, not 3.0


def test_report_writes_one_file_in_korean(url: str, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    out = run("report", "-o", str(target), "--lang", "ko").output
    assert "r.html" in out
    html = target.read_text(encoding="utf-8")
    assert '<html lang="ko">' in html and "고객 유지 리포트" in html


def test_report_goes_to_reports_dir_without_o(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETAIN_REPORTS_DIR", str(tmp_path / "out" / "reports"))
    out = run("report").output
    target = tmp_path / "out" / "reports" / "report.html"
    assert target.is_file() and "reports" in out


def test_errors_print_error_and_hint_and_exit_2(url: str) -> None:
    env = {"RETAIN_WAREHOUSE_URL": url, "PATH": "/usr/bin:/bin"}
    bad = subprocess.run(
        [str(ROOT / ".venv/bin/retain"), "metrics", "periods", "--activity", "clicks"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 2
    assert "Error: unknown activity 'clicks'" in bad.stderr
    assert "Hint: use orders, events, event:NAME" in bad.stderr
    parquet = CliRunner().invoke(app, ["metrics", "periods", "--format", "parquet"])
    assert isinstance(parquet.exception, InvalidParameterError)
    assert parquet.exception.hint == "add -o FILE.parquet"


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """An 80-column terminal (``COLUMNS=80``)."""
    from retain.cli._app import console

    monkeypatch.setattr(console, "_width", 80)


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


def test_periods_at_80_columns_is_readable_with_translated_headers(url: str, narrow: None) -> None:
    """#16 item 7: no cell cut to "20…"; fewer columns, each named in the reader's language."""
    out = run("metrics", "periods").output
    assert "…" not in out
    assert all(len(line) <= 80 for line in _lines(out))
    assert "2024-02-01" in out and "Churn %" in out and "Strict" in out
    assert "customers_start" not in out.split("\n\n")[0].splitlines()[2]  # headers translated
    assert "--columns" in out and "revenue_per_customer" in out  # what was left out, and how
    ja = run("--lang", "ja", "metrics", "periods").output
    assert "解約率 %" in ja and "…" not in ja


def test_columns_choose_what_every_format_shows(url: str, narrow: None) -> None:
    csv = run("metrics", "periods", "--columns", "period_start,revenue", "-f", "csv").output
    assert csv.splitlines()[0] == "period_start,revenue"
    rows = json.loads(run("metrics", "mrr", "-c", "period_start", "-c", "mrr", "-f", "json").output)
    assert set(rows[0]) == {"period_start", "mrr"}
    table = run("metrics", "periods", "-c", "period_start,revenue").output
    assert "Revenue" in table and "more columns" not in table
    bad = CliRunner().invoke(app, ["metrics", "periods", "-c", "nope"])
    assert isinstance(bad.exception, InvalidParameterError)
    assert "nope" in bad.exception.message and "period_start" in (bad.exception.hint or "")


@pytest.mark.parametrize("command", ["cohorts", "lifecycle", "mrr"])
def test_other_metric_tables_fit_80_columns(url: str, narrow: None, command: str) -> None:
    out = run("metrics", command).output
    assert "…" not in out
    assert all(len(line) <= 80 for line in _lines(out))


def test_csv_numbers_are_not_float_noise(capsys: pytest.CaptureFixture[str]) -> None:
    from retain.cli.metrics import OutputFormat, emit

    frame = pd.DataFrame({"revenue": [299060.1699999903, 0.1 + 0.2]})
    emit(frame, OutputFormat.csv, None, title="t")
    assert capsys.readouterr().out.splitlines() == ["revenue", "299060.17", "0.3"]
