"""``retain plan`` on uplift stored in the warehouse (``uplift_scores``): used, named, replaced.

The business is ``_plan_business`` (a1..a5 with hand-checked risk and CLV); the stored uplift
is written by hand, so each plan's profit is counted by hand below.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from _plan_business import db, retain_cli

import retain.warehouse as wh
from retain.models.uplift.scores import store_uplift_scores, stored_uplift

__all__ = ["db", "retain_cli"]


def _uplift(ids: list[str], action: str, up: float, honest: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": ids, "action": action, "uplift": up, "uplift_honest": honest}
    )


def _store(db: Path, frame: pd.DataFrame, campaign: str, version: str, day: str) -> None:
    con = wh.connect(f"duckdb:///{db.as_posix()}")
    try:
        store_uplift_scores(
            con,
            frame,
            campaign_id=campaign,
            as_of="2024-06-30",
            model_version=version,
            scored_at=pd.Timestamp(day),
        )
    finally:
        con.disconnect()


def test_an_empty_table_keeps_the_heuristic(retain_cli: Callable[..., Any]) -> None:
    out = retain_cli("plan", "--budget", "100", "--format", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["uplift_source"] == "heuristic"


def test_the_plan_uses_and_names_the_stored_uplift(
    retain_cli: Callable[..., Any], db: Path
) -> None:
    _store(db, _uplift(["a1", "a2"], "coupon", 0.2, 0.1), "CMP-04", "v1", "2024-07-01")
    out = retain_cli("plan", "--budget", "100", "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["uplift_source"] == "history"
    assert "coupon: campaign CMP-04, model v1" in doc["note"]
    # Only stored actions for stored customers: a1 0.2 x 200 - 1, a2 0.2 x 400 - 1 chosen;
    # valued on the honest half: 0.1 x 200 - 1 + 0.1 x 400 - 1.
    targets = {d["customer_id"]: d["action"] for d in doc["decisions"] if d["reason"] == "target"}
    assert targets == {"a1": "coupon", "a2": "coupon"}
    assert doc["summary"]["naive_profit"] == pytest.approx(118.0)
    assert doc["summary"]["expected_profit"] == pytest.approx(58.0)
    table = retain_cli("plan", "--budget", "100")
    assert "Uplift source: coupon: campaign CMP-04, model v1" in table.stdout
    ja = retain_cli("--lang", "ja", "plan", "--budget", "100")
    assert "アップリフトの出所: coupon: campaign CMP-04" in ja.stdout


def test_the_newest_scoring_per_action_wins_and_rerunning_replaces(
    retain_cli: Callable[..., Any], db: Path
) -> None:
    _store(db, _uplift(["a1", "a2"], "coupon", 0.2, 0.1), "CMP-02", "old", "2024-07-01")
    _store(db, _uplift(["a3"], "coupon", 0.5, 0.5), "CMP-04", "new", "2024-07-02")
    _store(db, _uplift(["a4"], "call", 0.3, 0.2), "CMP-05", "c1", "2024-07-01")
    con = wh.connect(f"duckdb:///{db.as_posix()}")
    found = stored_uplift(con)
    assert found is not None
    assert found.sources.set_index("action")["campaign_id"].to_dict() == {
        "call": "CMP-05",
        "coupon": "CMP-04",
    }
    con.disconnect()
    doc = json.loads(retain_cli("plan", "--budget", "100", "-f", "json").stdout)
    targets = {d["customer_id"]: d["action"] for d in doc["decisions"] if d["reason"] == "target"}
    # a3: 0.5 x 50 - 1 = 24; a4 call 0.2 x 1000 - 10 = 190; CMP-02's a1/a2 are not used.
    assert targets == {"a3": "coupon", "a4": "call"}
    assert doc["summary"]["expected_profit"] == pytest.approx(24.0 + 190.0)
    # Re-running CMP-04's scoring replaces its rows: a3 is gone, a1 takes its place.
    _store(db, _uplift(["a1"], "coupon", 0.5, 0.5), "CMP-04", "new2", "2024-07-03")
    con = wh.connect(f"duckdb:///{db.as_posix()}")
    rows = wh.read_table(con, "uplift_scores").to_pandas()
    con.disconnect()
    assert sorted(rows.loc[rows["campaign_id"] == "CMP-04", "customer_id"]) == ["a1"]
    doc = json.loads(retain_cli("plan", "--budget", "100", "-f", "json").stdout)
    targets = {d["customer_id"]: d["action"] for d in doc["decisions"] if d["reason"] == "target"}
    assert targets == {"a1": "coupon", "a4": "call"}
    assert "model new2" in doc["note"]


def _measured(ids: list[str], action: str, up: float, honest: float, var: float) -> pd.DataFrame:
    """Uplift as ``retain uplift score`` stores it now: one measured group with its variance."""
    return _uplift(ids, action, up, honest).assign(
        honest_group=f"{action}/0/1", honest_variance=var
    )


def test_measured_stored_uplift_gives_the_plan_its_interval(
    retain_cli: Callable[..., Any], db: Path
) -> None:
    _store(db, _measured(["a1", "a2"], "coupon", 0.2, 0.1, 0.0025), "CMP-04", "v1", "2024-07-01")
    doc = json.loads(retain_cli("plan", "--budget", "100", "--format", "json").stdout)
    # By hand (docs/offers.md, "The plan's interval"): a1 and a2 share one measured group, so
    # its error counts once for both: (200 + 400)^2 x 0.0025 = 900. Chance in who stays
    # (no discount): 0.1 x clv^2 - (0.1 x clv)^2 = 3,600 (a1) + 14,400 (a2).
    # 58 +- 1.96 x sqrt(18,900) = 58 +- 269.45.
    half = 1.959963984540054 * 18_900**0.5
    assert doc["summary"]["profit_low"] == pytest.approx(58.0 - half)
    assert doc["summary"]["profit_high"] == pytest.approx(58.0 + half)
    table = retain_cli("plan", "--budget", "100").stdout
    assert "95 % interval of that profit:" in table and "No 95 % interval" not in table
    ko = retain_cli("--lang", "ko", "plan", "--budget", "100").stdout
    assert "이 이익의 95 % 구간:" in ko
    rows = pd.read_csv(io.StringIO(retain_cli("plan", "--budget", "100", "-f", "csv").stdout))
    assert rows["plan_profit_low"].iloc[0] == pytest.approx(58.0 - half, abs=1e-6)
    assert rows["plan_profit_high"].nunique() == 1


def _old_table(db: Path, rows: pd.DataFrame) -> None:
    """``uplift_scores`` as an older retain wrote it: no measured group, no variance."""
    from retain.schema import get_table

    con = wh.connect(f"duckdb:///{db.as_posix()}")
    try:
        schema = get_table("uplift_scores").ibis_schema()
        old = {c: t for c, t in schema.items() if c not in ("honest_group", "honest_variance")}
        con.drop_table("uplift_scores", force=True)
        con.create_table("uplift_scores", schema=ibis.schema(old))
        con.insert("uplift_scores", rows[list(old)])
    finally:
        con.disconnect()


def test_an_older_scoring_plans_without_an_interval_and_says_how_to_rescore(
    retain_cli: Callable[..., Any], db: Path
) -> None:
    old = _uplift(["a1", "a2"], "coupon", 0.2, 0.1).assign(
        campaign_id="CMP-02",
        model_version="old",
        as_of=pd.Timestamp("2024-06-30"),
        scored_at=pd.Timestamp("2024-07-01"),
    )
    _old_table(db, old)
    doc = json.loads(retain_cli("plan", "--budget", "100", "--format", "json").stdout)
    assert doc["uplift_source"] == "history"
    assert doc["summary"]["expected_profit"] == pytest.approx(58.0)  # planned as before
    assert doc["summary"]["profit_low"] is None and doc["summary"]["profit_high"] is None
    for lang, says in (
        ("en", "No 95 % interval: the stored uplift of coupon was scored by an older version"),
        ("ja", "95 % 区間はありません: coupon の保存済みアップリフト"),
        ("ko", "95 % 구간이 없습니다: coupon 의 저장된 업리프트"),
    ):
        out = retain_cli("--lang", lang, "plan", "--budget", "100").stdout
        assert says in out and "retain uplift score CAMPAIGN --store" in out, out
    rows = pd.read_csv(io.StringIO(retain_cli("plan", "--budget", "100", "-f", "csv").stdout))
    assert rows["plan_profit_low"].isna().all()

    # Scoring again upgrades the table in place: the old rows stay (no group), the new one
    # brings its measurement, and the plan on it has an interval again.
    _store(db, _measured(["a1"], "coupon", 0.5, 0.5, 0.01), "CMP-04", "new", "2024-07-02")
    con = wh.connect(f"duckdb:///{db.as_posix()}")
    stored = wh.read_table(con, "uplift_scores").to_pandas().set_index("campaign_id")
    con.disconnect()
    assert stored.loc["CMP-02", "honest_group"].isna().all()
    assert stored.loc["CMP-04", "honest_group"] == "coupon/0/1"
    doc = json.loads(retain_cli("plan", "--budget", "100", "--format", "json").stdout)
    assert doc["summary"]["profit_low"] is not None
    assert "No 95 %" not in retain_cli("plan", "--budget", "100").stdout
