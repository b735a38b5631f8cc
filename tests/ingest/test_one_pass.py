"""The one-pass CSV path: cast straight from the file, raw text re-read only for broken rows.

A single CSV file is not staged as text first (``stage_source(lazy=True)``); the typed table's
``rowid`` is then the record number. These tests pin what that path must keep: lines named
exactly even deep in a file read in parallel, raw values and records of rejected rows, the
fallback for a file that fails while being read, and the same result as the staged path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retain.config import Settings
from retain.errors import DataValidationError
from retain.ingest import ingest

HEAD = "order_id,customer_id,ordered_at,amount,status\n"


@pytest.fixture
def duck_shop(warehouse: Any, tmp_path: Path, write: Any) -> Any:
    """A DuckDB warehouse with customers c0..c9."""
    ingest(
        "customers",
        write(tmp_path / "customers.csv", "customer_id\n" + "".join(f"c{i}\n" for i in range(10))),
        con=warehouse,
        settings=Settings(),
    )
    return warehouse


def _orders(n: int, broken: dict[int, str] | None = None) -> str:
    lines = [f"o{i},c{i % 10},2024-01-02 10:00:00,{i % 500}.25,completed\n" for i in range(n)]
    for index, line in (broken or {}).items():
        lines[index] = line
    return HEAD + "".join(lines)


def test_broken_rows_deep_in_a_large_file_are_named_by_line_and_raw_value(
    duck_shop: Any, tmp_path: Path, write: Any
) -> None:
    # 150,000 records span several row groups and parallel read buffers; record i is line i + 2.
    broken = {
        7: "o7,c7,2024-13-01,5,completed\n",
        70_000: "o70000,c1,2024-01-02,-3.5,completed\n",
        140_000: "o140000,c99,2024-01-02,1,completed\n",
    }
    path = write(tmp_path / "orders.csv", _orders(150_000, broken))
    with pytest.raises(DataValidationError) as info:
        ingest("orders", path, con=duck_shop, settings=Settings())
    found = sorted((v.row, v.rule, v.column, v.value) for v in info.value.violations)
    assert found == [
        (9, "invalid_date", "ordered_at", "2024-13-01"),
        (70_002, "negative_amount", "amount", "-3.5"),
        (140_002, "unknown_customer", "customer_id", "c99"),
    ]
    assert all(v.file == "orders.csv" for v in info.value.violations)
    assert duck_shop.table("orders").count().execute() == 0


def test_quarantined_repeated_keys_keep_their_raw_records(
    duck_shop: Any, tmp_path: Path, write: Any
) -> None:
    # No row is flagged by a row rule, so the raw text is first read for the rejects records.
    path = write(
        tmp_path / "orders.csv",
        HEAD + "o1,c1,2024-01-02,10.5,completed\no1,c2,2024-01-03,7,returned\n"
        "o2,c2,2024-01-04,3,completed\n",
    )
    report = ingest("orders", path, con=duck_shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (3, 1, 2)
    assert report.rejected_by_rule == {"duplicate_key": 2}
    rejects = duck_shop.table("rejects").order_by("row").to_pandas()
    assert rejects.row.tolist() == [2, 3]
    assert json.loads(rejects.record[1]) == {
        "order_id": "o1",
        "customer_id": "c2",
        "ordered_at": "2024-01-03",
        "amount": "7",
        "status": "returned",
    }
    assert duck_shop.table("orders").order_id.execute().tolist() == ["o2"]


def test_repeated_composite_keys_are_found(duck_shop: Any, tmp_path: Path, write: Any) -> None:
    ingest(
        "orders",
        write(tmp_path / "orders.csv", HEAD + "o1,c1,2024-01-02,10,completed\n"),
        con=duck_shop,
        settings=Settings(),
    )
    path = write(
        tmp_path / "lines.csv",
        "order_id,line_no,product_id,quantity,unit_price\n"
        "o1,1,p1,1,5\no1,2,p2,1,5\no1,1,p3,2,2.5\n",
    )
    with pytest.raises(DataValidationError) as info:
        ingest("order_lines", path, con=duck_shop, settings=Settings())
    assert sorted((v.row, v.rule, v.value) for v in info.value.violations) == [
        (2, "duplicate_key", "o1 / 1"),
        (4, "duplicate_key", "o1 / 1"),
    ]


def test_a_file_that_fails_while_read_names_the_file_and_line(
    duck_shop: Any, tmp_path: Path, write: Any
) -> None:
    # The sniffer sees a clean start; the broken record comes far past its sample.
    text = _orders(30_000, {25_000: "o25000,c1,2024-01-02,1,completed,extra\n"})
    path = write(tmp_path / "orders.csv", text)
    with pytest.raises(DataValidationError) as info:
        ingest("orders", path, con=duck_shop, settings=Settings())
    violation = info.value.violations[0]
    # The record is isolated by the rescan and named by its own rule, not "cannot be read".
    assert (violation.rule, violation.file, violation.row) == ("ragged_row", "orders.csv", 25_002)
    assert duck_shop.table("orders").count().execute() == 0


def test_one_file_loads_the_same_rows_as_the_staged_path(
    duck_shop: Any, tmp_path: Path, write: Any, warehouse: Any
) -> None:
    text = _orders(5_000)
    single = write(tmp_path / "one.csv", text)
    lines = text.splitlines(keepends=True)
    folder = tmp_path / "parts"
    folder.mkdir()
    write(folder / "a.csv", "".join(lines[:2_000]))
    write(folder / "b.csv", HEAD + "".join(lines[2_000:]))
    first = ingest("orders", single, con=duck_shop, settings=Settings())
    one = duck_shop.table("orders").order_by("order_id").to_pandas()
    duck_shop.raw_sql("DELETE FROM orders")
    second = ingest("orders", folder, con=duck_shop, settings=Settings())
    two = duck_shop.table("orders").order_by("order_id").to_pandas()
    assert first.rows_inserted == second.rows_inserted == 5_000
    pd.testing.assert_frame_equal(one, two)
    again = ingest("orders", single, con=duck_shop, settings=Settings())
    assert (again.rows_inserted, again.rows_unchanged) == (0, 5_000)


def test_unknown_references_skip_broken_rows_and_count_collapsed_repeats_once(
    duck_shop: Any, tmp_path: Path, write: Any
) -> None:
    # Key uniqueness and the reference check share one scan: an unknown customer on a row
    # repeated identically is one violation, and a row already broken by a row rule is not
    # also reported as an unknown reference.
    text = _orders(
        6,
        {
            1: "o1,c99,2024-01-02 10:00:00,1.25,completed\n",
            2: "o1,c99,2024-01-02 10:00:00,1.25,completed\n",
            3: "o3,c98,2024-01-02 10:00:00,abc,completed\n",
        },
    )
    path = write(tmp_path / "orders.csv", text)
    report = ingest(
        "orders", path, con=duck_shop, settings=Settings(ingest={"on_error": "quarantine"})
    )
    assert report.rejected_by_rule == {"unknown_customer": 1, "invalid_number": 1}
    assert (report.rows_collapsed, report.rows_inserted) == (1, 3)
    assert {(v.rule, v.row) for v in report.violations} == {
        ("unknown_customer", 3),
        ("invalid_number", 5),
    }
