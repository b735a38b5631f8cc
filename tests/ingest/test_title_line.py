"""A CSV with a title line (or blank lines) before its header names its lines right (issue 21).

DuckDB's sniffer passes over such lines (``SkipRows``); the loader used to number records from
the header as if it were line 1, so every error after it named a line one too low (two too low
under two title lines). Lines are the file's physical lines, as an editor shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retain.config import Settings
from retain.errors import DataValidationError
from retain.ingest import ingest

HEAD = "order_id,customer_id,ordered_at,amount,status"


@pytest.fixture
def shop(warehouse: Any, tmp_path: Path, write: Any) -> Any:
    """A DuckDB warehouse with customers c0..c9."""
    customers = "customer_id\n" + "".join(f"c{i}\n" for i in range(10))
    ingest("customers", write(tmp_path / "customers.csv", customers), con=warehouse)
    return warehouse


def _file(before: list[str], rows: int, broken: dict[int, str], newline: str = "\n") -> str:
    """``before`` lines, the header, then ``rows`` orders; ``broken`` maps record i to its text."""
    lines = [*before, HEAD]
    for i in range(rows):
        lines.append(broken.get(i, f"o{i},c{i % 10},2024-01-02 10:00:00,{i % 500}.25,completed"))
    return newline.join(lines) + newline


@pytest.mark.parametrize(
    ("before", "newline"),
    [
        (["Orders export 2024"], "\n"),
        (["Orders export 2024"], "\r\n"),
        (["Orders export 2024", "Shop: Tokyo"], "\n"),
        ([""], "\n"),
        (["Sales report, Q1 2024"], "\n"),  # a title holding the delimiter, fewer than the header
        (["Sales report, Q1 2024", "Shop, Tokyo, JP"], "\r\n"),
    ],
    ids=["title", "title-crlf", "two-titles", "blank", "title-comma", "two-titles-commas"],
)
def test_an_error_after_a_title_line_names_the_physical_line(
    shop: Any, tmp_path: Path, write: Any, before: list[str], newline: str
) -> None:
    # Record 2 sits on line len(before) + 1 (header) + 3.
    text = _file(before, 5, {2: "o2,c2,2024-01-02 10:00:00,abc,completed"}, newline)
    path = write(tmp_path / "orders.csv", text)
    with pytest.raises(DataValidationError) as info:
        ingest("orders", path, con=shop)
    (v,) = info.value.violations
    assert (v.file, v.row, v.column, v.rule) == (
        "orders.csv",
        len(before) + 4,
        "amount",
        "invalid_number",
    )
    assert v.hint
    assert text.split(newline)[v.row - 1].startswith("o2,c2,")  # the line an editor shows
    assert shop.table("orders").count().execute() == 0  # nothing half-written


def test_a_clean_file_with_a_title_loads_every_record_and_not_the_title(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    path = write(tmp_path / "orders.csv", _file(["Orders export 2024"], 30, {}))
    report = ingest("orders", path, con=shop)
    assert (report.rows_read, report.rows_inserted) == (30, 30)
    ids = set(shop.table("orders").to_pandas().order_id)
    assert ids == {f"o{i}" for i in range(30)}


def test_lines_past_the_sniff_sample_after_a_title_are_right(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    """Past DuckDB's 20,480-row sample the record number still maps to the right line."""
    text = _file(["Orders export 2024"], 30_000, {25_000: "o25000,c0,not a date,1.00,completed"})
    path = write(tmp_path / "orders.csv", text)
    with pytest.raises(DataValidationError) as info:
        ingest("orders", path, con=shop)
    (v,) = info.value.violations
    assert (v.row, v.column, v.rule) == (25_003, "ordered_at", "invalid_date")
    assert text.split("\n")[v.row - 1].startswith("o25000,")


def test_a_rescanned_file_with_a_title_names_both_kinds_of_error_by_line(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    """A malformed record sends the file to the Python rescan, which skips the title too."""
    broken = {1: 'o1,c1,2024-01-02 10:00:00,"1"0,completed', 3: "o3,c3,2024-01-02,abc,completed"}
    path = write(tmp_path / "orders.csv", _file(["Orders export 2024"], 6, broken))
    settings = Settings(ingest={"on_error": "quarantine"})
    report = ingest("orders", path, con=shop, settings=settings)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (6, 4, 2)
    rejects = shop.table("rejects").order_by("row").to_pandas()
    assert list(zip(rejects.row.astype(int), rejects.rule, strict=True)) == [
        (4, "bad_quoting"),
        (6, "invalid_number"),
    ]


def test_a_rescanned_file_with_a_comma_in_its_title_is_read_past_the_title(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    """The rescan skips a title holding the delimiter too; it read that title as the header."""
    broken = {1: 'o1,c1,2024-01-02 10:00:00,"1"0,completed'}
    path = write(tmp_path / "orders.csv", _file(["Sales report, Q1 2024"], 4, broken))
    settings = Settings(ingest={"on_error": "quarantine"})
    report = ingest("orders", path, con=shop, settings=settings)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (4, 3, 1)
    rejects = shop.table("rejects").to_pandas()
    assert list(zip(rejects.row.astype(int), rejects.rule, strict=True)) == [(4, "bad_quoting")]
