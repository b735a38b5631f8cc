"""``retain voice reasons|beside|themes`` against a real DuckDB warehouse loaded by ingestion."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.errors import InvalidParameterError
from retain.ingest import ingest

ANSWERS = [  # customer, day, reason, comment
    ("c1", "2025-02-01", "price", "=cmd|' /C calc'!A0 too expensive"),
    ("c2", "2025-02-02", "price", "料金が高すぎます。値上げが困ります。"),
    ("c3", "2025-02-03", "competitor", "다른 회사로 옮겼어요. 가격이 더 싸요."),
    ("c4", "2025-02-04", "bogus", ""),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("voice")
    (root / "retain.toml").write_text(f'warehouse_url = "duckdb:///{root / "shop.duckdb"}"\n')
    con = wh.connect(f"duckdb:///{root / 'shop.duckdb'}")
    wh.create_tables(con)
    customers = [f"c{i}" for i in range(1, 5)]
    ingest("customers", pd.DataFrame({"customer_id": customers}), con=con)
    ingest(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["o1", "o2"],
                "customer_id": ["c1", "c3"],
                "ordered_at": ["2024-12-01", "2025-01-15"],
                "amount": [120.0, 45.5],
            }
        ),
        con=con,
    )
    ingest(
        "interactions",
        pd.DataFrame(
            {
                "interaction_id": [f"x{i}" for i in range(len(ANSWERS))],
                "customer_id": [a[0] for a in ANSWERS],
                "occurred_at": [a[1] for a in ANSWERS],
                "kind": ["exit_survey"] * len(ANSWERS),
                "properties": [
                    json.dumps({"reason": a[2], "comment": a[3]}, ensure_ascii=False)
                    for a in ANSWERS
                ],
            }
        ),
        con=con,
    )
    con.disconnect()
    return root


@pytest.fixture
def invoke(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(project)
    return make_invoker(project / "retain.toml", monkeypatch)


def test_reasons_json_is_one_object_per_reason(invoke: Any) -> None:
    result = invoke("voice", "reasons", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert all(set(r) == {"reason", "customers", "share", "revenue_lost"} for r in rows)
    by = {r["reason"]: r for r in rows}
    assert len(rows) == 7 and by["price"]["customers"] == 2
    assert by["price"]["share"] == 50.0 and by["other"]["customers"] == 1  # "bogus" is other
    assert by["price"]["revenue_lost"] == 120.0 and by["competitor"]["revenue_lost"] == 45.5
    since = json.loads(invoke("voice", "reasons", "--since", "2025-02-03", "-f", "json").stdout)
    assert sum(r["customers"] for r in since) == 2


def test_reasons_table_csv_and_a_bad_split(invoke: Any) -> None:
    table = invoke("voice", "reasons")
    assert table.exit_code == 0 and "price" in table.stdout
    rows = list(csv.DictReader(io.StringIO(invoke("voice", "reasons", "-f", "csv").stdout)))
    assert rows[0]["reason"] == "price"
    bad = invoke("voice", "reasons", "--by", "planet")
    assert isinstance(bad.exception, InvalidParameterError) and "planet" in str(bad.exception)
    monthly = json.loads(invoke("voice", "reasons", "--by", "month", "-f", "json").stdout)
    assert {r["month"] for r in monthly} == {"2025-02"}


def test_themes_csv_neutralises_formulas(invoke: Any) -> None:
    result = invoke("voice", "themes", "--k", "1", "-f", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and int(rows[0]["texts"]) == 3
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@"))
    assert "'=cmd" in result.stdout
    assert rows[0]["label"]  # one theme is labelled by its top words
