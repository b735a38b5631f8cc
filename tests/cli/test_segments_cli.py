"""``retain segments``: compute and store at two dates, movement, members, errors, languages."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import ibis
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.schema import get_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targeting" / "segments"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targeting"))
import _targeting_data as data
from _segment_data import AS_OF, EXPECTED, ROWS, orders_frame

RETAIN = [sys.executable, "-m", "retain"]
EARLIER = "2024-06-05"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*RETAIN, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the hand-checked orders, RFM stored on two dates."""
    root = tmp_path_factory.mktemp("segments")
    assert run("init", cwd=root).returncode == 0
    con = wh.connect(f"duckdb:///{root / 'retain.duckdb'}")
    wh.create_tables(con)
    wh.write_table(con, "orders", orders_frame(ROWS))
    for name, rows in (("churn_scores", data.CHURN), ("clv_scores", data.CLV)):
        schema = get_table(name).ibis_schema()
        frame = pd.DataFrame([{c: row.get(c) for c in schema.names} for row in rows])
        wh.write_table(con, name, ibis.memtable(frame, schema=schema))
    con.disconnect()
    for day in (EARLIER, AS_OF):
        out = run("segments", "rfm", "--as-of", day, cwd=root)
        assert out.returncode == 0, out.stderr
    return root


def test_rfm_prints_sizes_and_stores(project: Path) -> None:
    out = run("segments", "rfm", "--as-of", AS_OF, cwd=project)
    assert out.returncode == 0, out.stderr
    assert "Champions" in out.stdout
    assert "Stored 10 memberships of rfm" in out.stdout
    sizes = pd.read_csv(
        io.StringIO(run("segments", "rfm", "--as-of", AS_OF, "-f", "csv", cwd=project).stdout)
    ).set_index("segment")
    assert sizes.loc["champions", "customers"] == 2
    assert sizes["customers"].sum() == len(EXPECTED)
    scores = json.loads(
        run("segments", "rfm", "--as-of", AS_OF, "-f", "json", "--customers", cwd=project).stdout
    )
    got = {row["customer_id"]: row["segment"] for row in scores}
    assert got == {cid: want[3] for cid, want in EXPECTED.items()}


def test_movement_matrix_and_one_transition(project: Path) -> None:
    out = run("segments", "movement", "--from", EARLIER, "--to", AS_OF, "-f", "csv", cwd=project)
    assert out.returncode == 0, out.stderr
    matrix = pd.read_csv(io.StringIO(out.stdout)).set_index("from_segment")
    assert int(matrix.to_numpy().sum()) == 9  # every buyer but c03, who first bought June 20
    table = run("segments", "movement", "--from", EARLIER, "--to", AS_OF, cwd=project)
    assert "9 customers at both dates" in table.stdout
    cell = matrix.stack()
    (source, target), count = next((k, v) for k, v in cell.items() if v > 0 and k[0] != k[1])
    listed = run(
        "segments", "movement", "--from", EARLIER, "--to", AS_OF,
        "--from-segment", source, "--to-segment", target, "-f", "json", cwd=project,
    )  # fmt: skip
    assert len(json.loads(listed.stdout)) == count


def test_members(project: Path) -> None:
    out = run("segments", "members", "champions", "-f", "csv", cwd=project)
    assert out.returncode == 0, out.stderr
    assert pd.read_csv(io.StringIO(out.stdout))["customer_id"].tolist() == ["c01", "c02"]
    ja = run("--lang", "ja", "segments", "members", "lost", "--as-of", AS_OF, cwd=project)
    assert "離脱顧客" in ja.stdout and "c09" in ja.stdout


def test_clear_errors(project: Path) -> None:
    missing = run("segments", "movement", "--from", "2024-05-01", "--to", AS_OF, cwd=project)
    assert missing.returncode == 2
    assert "No rfm segments are stored for 2024-05-01" in missing.stderr
    assert "2024-06-05, 2024-07-01" in missing.stderr
    wrong = run("segments", "members", "loyalists", cwd=project)
    assert wrong.returncode == 2
    assert "'loyalists' is not a segment of the rfm scheme" in wrong.stderr
    bad = run("segments", "rfm", "--as-of", "July", cwd=project)
    assert bad.returncode == 2 and "--as-of" in bad.stderr


def test_value_risk_and_frequency(project: Path) -> None:
    out = run("segments", "value-risk", "--as-of", AS_OF, "-f", "json", "--customers", cwd=project)
    assert out.returncode == 0, out.stderr
    got = {row["customer_id"]: row["segment"] for row in json.loads(out.stdout)}
    assert got == {
        "a1": "low_value_high_risk",
        "a2": "medium_value_medium_risk",
        "a3": "low_value_high_risk",
        "a4": "high_value_low_risk",
    }
    members = run(
        "segments", "members", "low_value_high_risk", "--scheme", "value_risk", "-f", "csv",
        cwd=project,
    )  # fmt: skip
    assert pd.read_csv(io.StringIO(members.stdout))["customer_id"].tolist() == ["a1", "a3"]
    freq = run("segments", "frequency", "--as-of", AS_OF, "-f", "csv", cwd=project)
    sizes = pd.read_csv(io.StringIO(freq.stdout)).set_index("segment")["customers"].to_dict()
    assert sizes == {"frequent": 4, "occasional": 2, "one_time": 4}


@pytest.fixture(scope="module")
def sources_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding the hand-checked acquisition-source business."""
    from _source_data import load

    root = tmp_path_factory.mktemp("sources")
    assert run("init", cwd=root).returncode == 0
    con = wh.connect(f"duckdb:///{root / 'retain.duckdb'}")
    wh.create_tables(con)
    load(con)
    con.disconnect()
    return root


def test_sources_csv_json_and_table(sources_project: Path) -> None:
    from _source_data import AS_OF as SOURCES_AS_OF
    from _source_data import CHANNEL, DISCOUNT

    out = run(
        "segments", "sources", "--as-of", SOURCES_AS_OF, "--format", "json", cwd=sources_project
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    got = [(r["dimension"], r["source"], r["customers"]) for r in rows]
    want = [("channel", r[0], r[1]) for r in CHANNEL] + [
        ("first_discount", r[0], r[1]) for r in DISCOUNT
    ]
    assert got == want
    assert rows[0]["retention_90d"] == pytest.approx(0.5)
    assert rows[0]["mean_clv"] == pytest.approx(175.0)
    csv = run(
        "segments", "sources", "--as-of", SOURCES_AS_OF, "--by", "first_discount",
        "--format", "csv", cwd=sources_project,
    )  # fmt: skip
    assert csv.returncode == 0, csv.stderr
    frame = pd.read_csv(io.StringIO(csv.stdout))
    assert frame["source"].tolist() == ["none", "some", "large"]
    assert frame["discount_dependence"].iloc[2] == pytest.approx(1.0)
    table = run("segments", "sources", "--as-of", SOURCES_AS_OF, cwd=sources_project)
    assert table.returncode == 0, table.stderr
    assert "Large discount" in table.stdout
    assert "50.0%" in table.stdout
    assert "(5 customers)" in table.stdout
    ja = run("--lang", "ja", "segments", "sources", "--as-of", SOURCES_AS_OF, cwd=sources_project)
    assert ja.returncode == 0, ja.stderr
    assert "大幅割引" in ja.stdout and "獲得経路の質" in ja.stdout
    bad = run("segments", "sources", "--by", "country", cwd=sources_project)
    assert bad.returncode != 0
    assert "channel, first_discount" in bad.stderr + bad.stdout
