"""``retain plan``: the plan of a small scored business, checked by hand, in every format."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _plan_business import data, db, retain_cli

import retain.warehouse as wh
from retain.errors import InvalidParameterError, NotFoundError

__all__ = ["db", "retain_cli"]

# The business and the actions: _plan_business (coupon 1.0 at 10 %, call 10.0 at 30 %, one a week).
# Heuristic uplift = p(churn) x rate; profit = uplift x CLV - cost (order value 0: no discount):
#   a2 call 0.65*0.3*400-10 = 68 (ratio 6.8), a1 call 0.9*0.3*200-10 = 44 -> the call's one
#   slot is taken, coupon 0.09*200-1 = 17; a3 coupon 0.08*50-1 = 3; a4 call full, coupon
#   0.01*1000-1 = 9; a5 has no CLV: not worth the cost.


def test_json_plan_matches_the_hand_count(retain_cli: Callable[..., Any]) -> None:
    out = retain_cli("plan", "--budget", "100", "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["uplift_source"] == "heuristic"
    assert doc["assumed_response_rates"] == {"coupon": 0.1, "call": 0.3}
    assert "assumed" in doc["note"]
    got = {d["customer_id"]: (d["action"], d["reason"]) for d in doc["decisions"]}
    assert got == {
        "a2": ("call", "target"),
        "a1": ("coupon", "target"),
        "a3": ("coupon", "target"),
        "a4": ("coupon", "target"),
        "a5": ("nothing", "not_worth_cost"),
    }
    assert doc["summary"]["total_cost"] == pytest.approx(13.0)
    assert doc["summary"]["expected_profit"] == pytest.approx(68 + 17 + 3 + 9)
    assert doc["summary"]["what_if_profit"] == pytest.approx(0.05 * 1650)


def test_a_tight_budget_stops_the_walk(retain_cli: Callable[..., Any]) -> None:
    out = retain_cli("plan", "--budget", "11.5", "-f", "csv")
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(io.StringIO(out.stdout)).set_index("customer_id")
    assert frame.loc[["a2", "a1"], "status"].tolist() == ["target", "target"]
    assert frame.loc[["a3", "a4"], "reason"].tolist() == ["over_budget", "over_budget"]
    assert set(frame["uplift_source"]) == {"heuristic"}


def test_table_says_heuristic_and_lists_targets(retain_cli: Callable[..., Any]) -> None:
    out = retain_cli("plan", "--budget", "100")
    assert out.exit_code == 0, out.output
    assert "No campaign history" in out.stdout
    assert "coupon 10.0%" in out.stdout and "call 30.0%" in out.stdout
    assert "Over budget 0" in out.stdout
    assert "a2" in out.stdout
    ja = retain_cli("--lang", "ja", "plan", "--budget", "100")
    assert "キャンペーン履歴がない" in ja.stdout


def test_uplift_file_is_history_and_shows_the_correction(
    retain_cli: Callable[..., Any], tmp_path: Path
) -> None:
    path = tmp_path / "uplift.csv"
    pd.DataFrame(
        {
            "customer_id": ["a1", "a2"],
            "action": ["coupon", "coupon"],
            "uplift": [0.2, 0.2],
            "uplift_honest": [0.1, 0.05],
        }
    ).to_csv(path, index=False)
    out = retain_cli("plan", "--budget", "100", "--uplift", str(path), "-f", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["uplift_source"] == "history"
    # Chosen on 0.2: a1 40 - 1, a2 80 - 1; valued out of fold: 20 - 1 and 20 - 1.
    assert doc["summary"]["naive_profit"] == pytest.approx(118.0)
    assert doc["summary"]["expected_profit"] == pytest.approx(38.0)
    table = retain_cli("plan", "--budget", "100", "--uplift", str(path))
    assert "winner's curse" in table.stdout


def test_errors_name_the_problem(retain_cli: Callable[..., Any]) -> None:
    """The in-process runner hands back the RetainError that ``retain`` prints with exit 2."""
    out = retain_cli("plan", "--budget", "-5")
    assert isinstance(out.exception, InvalidParameterError)
    assert "budget" in out.exception.message
    out = retain_cli("plan", "--budget", "5", "--segment", "nonsense")
    assert isinstance(out.exception, InvalidParameterError)
    assert "'nonsense' is not a segment" in out.exception.message
    out = retain_cli("plan", "--budget", "5", "--segment", "champions")
    assert isinstance(out.exception, NotFoundError)
    assert "retain segments rfm" in (out.exception.hint or "")


def test_a_saved_segment_keeps_only_its_members(retain_cli: Callable[..., Any]) -> None:
    """``--segment`` also takes a saved segment (``retain segments create``): its rule's members
    are planned, nobody else; a stored segment name still means the stored segment."""
    rule = json.dumps({"field": "country", "op": "=", "value": "JP"})
    made = retain_cli("segments", "create", "japan", "--rule", rule)
    assert made.exit_code == 0, made.output
    out = retain_cli("plan", "--budget", "100", "--segment", "japan", "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert {d["customer_id"] for d in doc["decisions"]} == {"a1", "a3", "a5"}
    assert doc["plan_id"].endswith("-japan")  # the segment names the plan and seeds its holdout


def test_csv_neutralises_ids_a_spreadsheet_would_run(
    retain_cli: Callable[..., Any], db: Path
) -> None:
    # The API's plan.csv prefixes such cells with "'"; the CLI's CSV wrote them raw, so an id
    # like =HYPERLINK(...) ran as a formula in whoever opened the file.
    con = wh.connect(f"duckdb:///{db.as_posix()}")
    data.write(con, "customers", [{"customer_id": "=1+1"}])
    row = dict(next(r for r in data.CHURN if r["customer_id"] == "a3"), customer_id="=1+1")
    data.write(con, "churn_scores", [row])
    con.disconnect()
    out = retain_cli("plan", "--budget", "100", "-f", "csv")
    assert out.exit_code == 0, out.output
    ids = pd.read_csv(io.StringIO(out.stdout), dtype=str)["customer_id"].tolist()
    assert "'=1+1" in ids and "=1+1" not in ids
