"""``retain demo`` end to end: real subprocesses, a real DuckDB warehouse file, exact lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

RETAIN = [sys.executable, "-m", "retain"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run(
        [*RETAIN, *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=300
    )


def test_demo_writes_loads_and_summarises(tmp_path: Path) -> None:
    out = run("demo", "--customers", "300", "--seed", "3", "--out", "files", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "files" / "orders.csv").is_file()
    assert (tmp_path / "files" / "truth_params.json").is_file()
    lines = out.stdout.splitlines()
    assert any(line.startswith("Demo business loaded into the warehouse") for line in lines)
    row = next(line for line in lines if "│ customers " in line)
    assert [cell.strip() for cell in row.split("│")[1:5]] == ["customers", "300", "300", "0"]
    assert any("Customers alive at the end" in line for line in lines)
    assert "Next:" in out.stdout
    assert "Past playbook runs: 3 (" in out.stdout  # the shipped playbooks' planted history
    assert (tmp_path / "files" / "truth_playbooks.csv").is_file()
    with duckdb.connect(str(tmp_path / "retain.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from customers").fetchone() == (300,)
        held = con.execute(
            "select count(*) from interactions where interaction_id like 'holdout-%'"
        ).fetchone()
        planted = con.execute("select sum(n_holdout) from demo_truth_playbooks").fetchone()
        assert held is not None and planted is not None and held[0] >= planted[0] > 0
        assert con.execute("select count(*) from demo_truth_customers").fetchone() == (300,)
        assert con.execute("select count(*) from demo_truth_campaigns").fetchone() == (5,)


def test_no_load_only_writes_files_and_speaks_korean(tmp_path: Path) -> None:
    out = run(
        "--lang",
        "ko",
        "demo",
        "--customers",
        "200",
        "--no-load",
        "--format",
        "parquet",
        "--out",
        "d",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "d" / "events.parquet").is_file()
    assert not (tmp_path / "retain.duckdb").exists()
    assert "저장한 데모 회사 데이터" in out.stdout
    assert "이탈한 고객" in out.stdout


@pytest.mark.slow
def test_run_pipeline_scores_reports_and_prints_where_to_look(tmp_path: Path) -> None:
    """What `make demo` runs: load, CLV, churn per business line, report, dashboard login."""
    out = run("demo", "--customers", "1500", "--seed", "11", "--run-pipeline", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    config = (tmp_path / "retain.toml").read_text()
    assert 'name = "shop"' in config and 'name = "subscription"' in config
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<html" in report
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?:', report)
    assert "demo@example.com / retain-demo-2024" in " ".join(out.stdout.split())
    with duckdb.connect(str(tmp_path / "retain.duckdb"), read_only=True) as con:
        clv = con.execute("select count(*), min(clv) >= 0 from clv_scores").fetchone()
        assert clv is not None and clv[0] > 0 and clv[1]
        lines = dict(
            con.execute("select definition, count(*) from churn_scores group by 1").fetchall()
        )
        assert set(lines) == {"shop", "subscription"}
        reasons = con.execute(
            "select reasons from churn_scores where risk_band = 'high' limit 1"
        ).fetchone()
        assert reasons is not None and '"key"' in reasons[0]
        # segments a month apart, so the page and the report show movement
        dates = con.execute(
            "select scheme, count(distinct as_of) from segment_memberships group by 1"
        ).fetchall()
        assert dict(dates) == {"rfm": 2, "value_risk": 1}
    assert (tmp_path / "retain-app.db").is_file()


def test_bad_option_is_one_error_line_and_a_hint(tmp_path: Path) -> None:
    out = run("demo", "--customers", "0", "--no-load", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "Error: customers must be a whole number from 1 to 50,000,000; got 0",
        "Hint: see 'retain demo --help' for the allowed values",
    ]
    future = run("demo", "--start", "2099-01-01", "--no-load", cwd=tmp_path)
    assert future.returncode == 2
    assert future.stderr.splitlines()[0].startswith(
        "Error: the demo window 2099-01-01 to 2101-01-01 ends after today"
    )
    assert "Traceback" not in future.stderr
