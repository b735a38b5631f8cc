"""``retain ingest``: exact output lines, exit codes, the recipe form, and errors with hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import retain.warehouse as wh
from retain.cli import app
from retain.cli._app import state

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RETAIN_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'w.duckdb'}")
    state._settings = None
    runner = CliRunner()

    def run(*args: str) -> Any:
        state._settings = None
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield run
    state._settings = None


def _count(tmp_path: Path, table: str) -> int:
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        return int(con.table(table).count().to_pyarrow().as_py())
    finally:
        con.disconnect()


def test_ingest_prints_what_it_loaded(cli: Any, tmp_path: Path, write: Any) -> None:
    write(tmp_path / "c.csv", "customer_id\nc1\nc2\n")
    result = cli("ingest", "customers", "c.csv")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].startswith(
        "customers: 2 rows read, 2 inserted, 0 updated, 0 unchanged, 0 rejected ("
    )


def test_quarantine_says_how_many_and_where(cli: Any, tmp_path: Path, write: Any) -> None:
    write(
        tmp_path / "o.csv",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02,5\no2,c1,2024-13-01,5\n",
    )
    result = cli(
        "ingest", "orders", "o.csv", "--on-error", "quarantine", "--unknown-customers", "create"
    )
    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert "1 inserted" in lines[0] and "1 rejected" in lines[0]
    assert "1 new customers created." in lines[0]
    assert lines[1] == (
        "  1 × invalid_date, e.g. o.csv line 3, column ordered_at: '2024-13-01' "
        "is not a date (expected ISO 8601 or --date-format)"
    )
    assert lines[2].startswith("Rejected rows are in the 'rejects' table (batch ")
    assert _count(tmp_path, "rejects") == 1


def test_recipe_form(cli: Any) -> None:
    result = cli("ingest", "--recipe", "online-retail-ii", str(FIXTURES / "online-retail-ii"))
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("Recipe online-retail-ii: UCI Online Retail II")
    assert "orders: 10 rows read, 7 inserted" in out
    assert (
        "  3 × missing_value, e.g. online_retail_II_2009-2010.csv line 9, column customer_id" in out
    )
    assert "  3 × unknown_reference, e.g. " in out


def _run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The real entry point (with its error boundary), as the ``retain`` script runs it."""
    import sys

    from retain.cli import main

    old = sys.argv
    sys.argv = ["retain", *args]
    try:
        with pytest.raises(SystemExit) as info:
            main()
    finally:
        sys.argv = old
        state._settings = None
    return int(info.value.code or 0), capsys.readouterr().err


def test_bad_data_is_one_error_line_and_a_hint_exit_2(
    cli: Any, tmp_path: Path, write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "c.csv", "customer_id\nc1\n")
    cli("ingest", "customers", "c.csv")
    write(tmp_path / "orders.csv", "order_id,customer_id,ordered_at,amount\no1,c1,2024-13-01,5\n")
    code, err = _run_main(["ingest", "orders", "orders.csv"], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[0] == (
        "Error: orders.csv line 2, column ordered_at: '2024-13-01' is not a date "
        "(expected ISO 8601 or --date-format) (rule: invalid_date)"
    )
    assert lines[1].startswith("Hint: write dates as 2024-01-31")
    assert "Traceback" not in err
    assert _count(tmp_path, "orders") == 0


def test_recipe_and_table_usage_errors(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_main(["ingest", "orders"], capsys)
    assert code == 2 and "give either TABLE and PATH, or --recipe NAME and PATH" in err
    code, err = _run_main(["ingest", "--recipe", "nope", "x.csv"], capsys)
    assert code == 2 and "no recipe named 'nope'" in err and "cdnow" in err
    code, err = _run_main(["ingest", "orders", "o.csv", "--on-error", "skip"], capsys)
    assert code == 2 and "on_error must be one of reject, quarantine" in err


def test_an_excel_sheet_chosen_with_sheet(cli: Any, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "メモ"
    book.active.append(["この表は注文です"])
    ws = book.create_sheet("고객")
    ws.append(["customer_id", "country"])
    ws.append(["k1", "KR"])
    ws.append(["k2", "Korea"])  # not an ISO code: rejected with sheet and row
    book.save(tmp_path / "book.xlsx")
    result = cli("ingest", "customers", "book.xlsx", "--sheet", "고객", "--on-error", "quarantine")
    assert result.exit_code == 0, result.output
    assert "2 rows read, 1 inserted" in result.stdout
    assert "book.xlsx[고객] line 3, column country" in result.stdout
    assert _count(tmp_path, "customers") == 1
