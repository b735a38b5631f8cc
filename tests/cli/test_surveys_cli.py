"""``retain surveys nps`` against a real DuckDB warehouse loaded by ingestion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.errors import InvalidParameterError
from retain.ingest import ingest

ANSWERS = [  # customer, day, survey, score
    ("c1", "2025-01-05", "nps", 0),  # superseded by c1's later 10
    ("c1", "2025-02-10", "nps", 10),
    ("c2", "2025-01-20", "nps", 9),
    ("c3", "2025-02-01", "nps", 3),
    ("c4", "2025-02-02", "nps", 8),
    ("c4", "2025-02-03", "csat", 1),  # another survey: not counted
]
COUNTRIES = {"c1": "JP", "c2": "JP", "c3": "KR", "c4": "KR"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("surveys")
    (root / "retain.toml").write_text(f'warehouse_url = "duckdb:///{root / "shop.duckdb"}"\n')
    con = wh.connect(f"duckdb:///{root / 'shop.duckdb'}")
    wh.create_tables(con)
    ingest(
        "customers",
        pd.DataFrame({"customer_id": list(COUNTRIES), "country": list(COUNTRIES.values())}),
        con=con,
    )
    ingest(
        "interactions",
        pd.DataFrame(
            {
                "interaction_id": [f"s{i}" for i in range(len(ANSWERS))],
                "customer_id": [a[0] for a in ANSWERS],
                "occurred_at": [a[1] for a in ANSWERS],
                "kind": ["survey_answer"] * len(ANSWERS),
                "properties": [
                    json.dumps({"survey": a[2], "score": a[3], "comment": ""}) for a in ANSWERS
                ],
            }
        ),
        con=con,
    )
    from retain.targeting.segments.store import store_memberships

    old = pd.DataFrame({"customer_id": ["c1", "c2"], "segment": ["one_time", "one_time"]})
    store_memberships(con, "frequency", "2025-01-01", old)
    latest = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "segment": ["frequent"] * 3})
    store_memberships(con, "frequency", "2025-03-01", latest)
    con.disconnect()
    return root


@pytest.fixture
def invoke(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(project)
    return make_invoker(project / "retain.toml", monkeypatch)


def test_nps_json_counts_each_customers_latest_answer(invoke: Any) -> None:
    result = invoke("surveys", "nps", "--format", "json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    # latest: c1 10, c2 9, c3 3, c4 8 -> 2 promoters, 1 passive, 1 detractor: NPS 25.
    # var = .75 - .0625 = .6875; half = 1.959964 * sqrt(.6875 / 4) = .812599 -> [-56.26, 100].
    assert {k: got[k] for k in ("responses", "promoters", "passives", "detractors")} == {
        "responses": 4,
        "promoters": 2,
        "passives": 1,
        "detractors": 1,
    }
    assert got["nps"] == 25.0
    assert got["ci_low"] == pytest.approx(-56.26, abs=0.01) and got["ci_high"] == 100.0


def test_nps_by_a_customer_attribute_and_since(invoke: Any) -> None:
    result = invoke("surveys", "nps", "--by", "country", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["country"]: r for r in json.loads(result.output)}
    assert (rows["JP"]["nps"], rows["JP"]["responses"]) == (100.0, 2)
    assert (rows["KR"]["nps"], rows["KR"]["detractors"], rows["KR"]["passives"]) == (-50.0, 1, 1)
    since = json.loads(invoke("surveys", "nps", "--since", "2025-02-01", "--format", "json").output)
    assert (since["responses"], since["nps"]) == (3, 0.0)


def test_nps_by_stored_segment_on_its_latest_date(invoke: Any) -> None:
    result = invoke("surveys", "nps", "--by", "segment:frequency", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["segment:frequency"]: r for r in json.loads(result.output)}
    # latest memberships: c1, c2, c3 frequent (10, 9, 3); c4 has none (8)
    assert (rows["frequent"]["responses"], rows["frequent"]["nps"]) == (3, pytest.approx(33.33))
    assert (rows["unknown"]["responses"], rows["unknown"]["passives"]) == (1, 1)


def test_nps_over_months_and_as_a_table(invoke: Any) -> None:
    rows = json.loads(invoke("surveys", "nps", "--over", "month", "--format", "json").output)
    assert [(r["period"], r["responses"]) for r in rows] == [("2025-01", 2), ("2025-02", 3)]
    table = invoke("surveys", "nps")
    assert table.exit_code == 0 and "NPS 25" in table.output


def test_a_bad_attribute_or_date_is_an_error(invoke: Any) -> None:
    bad = invoke("surveys", "nps", "--by", "shoe_size")
    assert isinstance(bad.exception, InvalidParameterError) and "country" in str(bad.exception)
    assert invoke("surveys", "nps", "--since", "yesterday").exit_code != 0


def test_flush_appends_held_back_answers_and_exit_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retain.app.db import make_engine, make_sessionmaker, upgrade
    from retain.voice import cancel, surveys

    db, shop = f"sqlite:///{tmp_path / 'app.db'}", f"duckdb:///{tmp_path / 'shop.duckdb'}"
    (tmp_path / "retain.toml").write_text(f'warehouse_url = "{shop}"\ndatabase_url = "{db}"\n')
    con = wh.connect(shop)
    wh.create_tables(con)
    ingest("customers", pd.DataFrame({"customer_id": ["c1"]}), con=con)
    con.disconnect()
    upgrade(db)
    engine = make_engine(db)
    with make_sessionmaker(engine)() as s:
        inv = surveys.invite(s, "k", survey="nps", customer_id="c1")
        s.commit()
        surveys.answer(s, "k", inv.token, score=4, comment="=1+1")
        token = cancel.cancel_link("k", "c1")
        cancel.state_reason(s, "k", token, reason="temporary")
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    invoke = make_invoker(tmp_path / "retain.toml", monkeypatch)
    result = invoke("surveys", "flush")
    assert result.exit_code == 0, result.output
    assert "1 survey answers and 1 exit reasons" in result.output
    con = wh.connect(shop)
    kinds = sorted(r["kind"] for r in con.table("interactions").to_pyarrow().to_pylist())
    con.disconnect()
    assert kinds == ["exit_survey", "survey_answer"]
    assert "0 survey answers" in invoke("surveys", "flush").output
