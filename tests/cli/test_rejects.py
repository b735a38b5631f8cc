"""``retain rejects``: what a quarantined load kept aside, newest batch first, 80 columns wide."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from retain.cli import app
from retain.cli._app import state
from retain.errors import InvalidParameterError

HEAD = "order_id,customer_id,ordered_at,amount,status\n"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RETAIN_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'w.duckdb'}")
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()

    def run(*args: str) -> Any:
        state._settings = None
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield run
    state._settings = None


@pytest.fixture
def two_batches(cli: Any, tmp_path: Path) -> tuple[str, str]:
    """Customers c1, c2; then two quarantined orders loads. Returns their batch ids."""
    (tmp_path / "c.csv").write_text("customer_id\nc1\nc2\n", encoding="utf-8")
    assert cli("ingest", "customers", "c.csv").exit_code == 0
    (tmp_path / "first.csv").write_text(
        HEAD + "o1,c1,2024-01-02,10,completed\no2,c1,someday,5,completed\n", encoding="utf-8"
    )
    (tmp_path / "注文.csv").write_text(
        HEAD
        + "o3,c1,2024-01-02,abc,completed\n"
        + "o4,nobody,2024-01-03,1,completed\n"
        + "o5,c2,2024-01-04,"
        + "9" * 300
        + ",completed\n",
        encoding="utf-8",
    )
    ids = []
    for name in ("first.csv", "注文.csv"):
        result = cli("ingest", "orders", name, "--on-error", "quarantine")
        assert result.exit_code == 0, result.output
        ids.append(result.stdout.rsplit("(batch ", 1)[1].split(")")[0])
    return ids[0], ids[1]


def test_nothing_quarantined_says_so(cli: Any) -> None:
    result = cli("rejects")
    assert result.exit_code == 0
    assert "Nothing has been quarantined" in result.stdout


def test_the_newest_batch_by_default_at_80_columns(cli: Any, two_batches: tuple[str, str]) -> None:
    first, second = two_batches
    result = cli("rejects")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert second in out and "orders" in out and "3 problems" in out
    assert "注文.csv" in out and "first.csv" not in out
    assert "unknown_customer" in out and "invalid_number" in out and "absurd_amount" in out
    assert "…" in out  # the 300-digit value is cut, not printed whole
    assert max(cell_len(line) for line in out.splitlines()) <= 80
    assert f"Other batches with rejects: {first}" in out


def test_a_chosen_batch_and_every_column_as_csv_and_json(
    cli: Any, two_batches: tuple[str, str]
) -> None:
    first, _ = two_batches
    result = cli("rejects", "--batch", first, "--format", "csv")
    frame = pd.read_csv(StringIO(result.stdout))
    assert frame[["batch_id", "file", "row", "column", "rule", "value"]].values.tolist() == [
        [first, "first.csv", 3, "ordered_at", "invalid_date", "someday"]
    ]
    assert json.loads(frame.record[0])["order_id"] == "o2"
    records = json.loads(cli("rejects", "--batch", first, "--format", "json").stdout)
    assert [r["rule"] for r in records] == ["invalid_date"]
    assert set(records[0]) >= {"batch_id", "table_name", "file", "row", "message", "hint"}


def test_an_unknown_batch_lists_those_there_are(cli: Any, two_batches: tuple[str, str]) -> None:
    first, second = two_batches
    with pytest.raises(InvalidParameterError) as info:  # the CLI boundary prints it, exit 2
        cli("rejects", "--batch", "nope")
    assert info.value.message == "no rejected rows in batch nope"
    assert f"{second}, {first}" in (info.value.hint or "")


def test_limit_and_language(cli: Any, two_batches: tuple[str, str]) -> None:
    result = cli("rejects", "--limit", "1")
    assert "1 of 3 shown" in result.stdout
    japanese = cli("--lang", "ja", "rejects")
    assert "ルール" in japanese.stdout and "除外行" in japanese.stdout


def test_chosen_columns(cli: Any, two_batches: tuple[str, str]) -> None:
    result = cli("rejects", "--columns", "row,message")
    assert "does not exist" in result.stdout and "unknown_customer" not in result.stdout
    frame = pd.read_csv(StringIO(cli("rejects", "-c", "rule", "-f", "csv").stdout))
    assert list(frame.columns) == ["rule"] and len(frame) == 3
    with pytest.raises(InvalidParameterError):
        cli("rejects", "--columns", "nonsense")
