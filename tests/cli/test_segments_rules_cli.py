"""``retain segments create | list | show | members | size | fields``: saved rules on the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import retain.warehouse as wh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targeting" / "segments"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targeting"))
from _rule_data import write_business

RETAIN = [sys.executable, "-m", "retain"]
JAPAN = json.dumps({"field": "country", "op": "=", "value": "JP"})


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*RETAIN, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding ``_rule_data``'s business, with the segment "japan" saved."""
    root = tmp_path_factory.mktemp("segment_rules")
    assert run("init", cwd=root).returncode == 0
    con = wh.connect(f"duckdb:///{root / 'retain.duckdb'}")
    wh.create_tables(con)
    write_business(con)
    con.disconnect()
    out = run("segments", "create", "japan", "--rule", JAPAN, "--description", "JP", cwd=root)
    assert out.returncode == 0, out.stderr
    assert "Saved segment japan" in out.stdout
    return root


def _csv(out: subprocess.CompletedProcess[str]) -> pd.DataFrame:
    assert out.returncode == 0, out.stderr
    return pd.read_csv(io.StringIO(out.stdout))


def test_list_show_and_members(project: Path) -> None:
    listed = json.loads(run("segments", "list", "-f", "json", cwd=project).stdout)
    assert [(s["name"], s["kind"]) for s in listed] == [("japan", "rule")]
    shown = json.loads(run("segments", "show", "japan", "-f", "json", cwd=project).stdout)
    assert shown["rule"] == json.loads(JAPAN) and shown["description"] == "JP"
    # Default date: the latest scoring run (2024-06-30), before a5 was acquired.
    members = _csv(run("segments", "members", "japan", "-f", "csv", cwd=project))
    assert members["customer_id"].tolist() == ["a1", "a3"]
    later = run("segments", "members", "japan", "--as-of", "2024-09-01", "-f", "json", cwd=project)
    assert [r["customer_id"] for r in json.loads(later.stdout)] == ["a1", "a3", "a5"]
    table = run("segments", "members", "japan", cwd=project)
    assert "Customers of" in table.stdout and "│ a3 " in table.stdout  # title wraps


def test_size_at_month_ends(project: Path) -> None:
    out = run(
        "segments", "size", "japan", "--months", "3", "--end", "2024-09-01", "-f", "csv",
        cwd=project,
    )  # fmt: skip
    sizes = _csv(out)
    assert sizes["customers"].tolist() == [2, 2, 3]
    assert sizes["as_of"].str[:10].tolist() == ["2024-07-01", "2024-08-01", "2024-09-01"]
    ja = run("--lang", "ja", "segments", "size", "japan", "--months", "2", cwd=project)
    assert ja.returncode == 0 and "月末ごとの人数" in ja.stdout


def test_invalid_rules_and_names_are_refused_clearly(project: Path) -> None:
    bad = run(
        "segments", "create", "bad", "--rule",
        '{"all": [{"field": "country", "op": "=", "value": "JP"}, {"field": "tenur"}]}',
        cwd=project,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "rule.all[1].field: unknown field 'tenur'; did you mean 'tenure_days'?" in bad.stderr
    again = run("segments", "create", "japan", "--rule", JAPAN, cwd=project)
    assert again.returncode != 0 and "japan" in again.stderr
    none = run("segments", "create", "empty", cwd=project)
    assert none.returncode == 2 and "--rule" in none.stderr
    missing = run("segments", "size", "nobody", cwd=project)
    assert missing.returncode != 0 and "nobody" in missing.stderr


def test_replace_and_rules_from_a_file(project: Path, tmp_path: Path) -> None:
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"event": "login", "at_least": 3, "days": 30}), encoding="utf-8")
    out = run("segments", "create", "logins", "--rule", f"@{rule}", cwd=project)
    assert out.returncode == 0, out.stderr
    # As of the run (2024-06-30, 00:00): a1's third login (06-30 23:00) comes after it.
    members = _csv(run("segments", "members", "logins", "-f", "csv", cwd=project))
    assert members["customer_id"].tolist() == ["a3"]
    rule.write_text(json.dumps({"event": "login", "at_least": 1, "days": 3}), encoding="utf-8")
    out = run("segments", "create", "logins", "--rule", f"@{rule}", "--replace", cwd=project)
    assert out.returncode == 0 and "Replaced the rule of segment logins" in out.stdout
    # As of 2024-06-30 the last 3 days hold a2's login of 06-28 (a1's of 06-30 23:00 is after).
    members = _csv(run("segments", "members", "logins", "-f", "csv", cwd=project))
    assert members["customer_id"].tolist() == ["a2"]


def test_fields_lists_what_a_rule_may_name(project: Path) -> None:
    fields = _csv(run("segments", "fields", "-f", "csv", cwd=project))
    assert {"tenure_days", "segment.rfm", "features.orders_90d", "attributes.<key>"} <= set(
        fields["field"]
    )


def test_stored_rfm_segments_still_list_by_name(project: Path) -> None:
    out = _csv(run("segments", "members", "at_risk", "-f", "csv", cwd=project))
    # The stored RFM segment (latest stored date 2024-08-01), not a saved segment.
    assert out["customer_id"].tolist() == ["a1", "a3"]
