"""Excel workbooks load like CSV (issue #16, 15): typed cells, sheets, rows named by sheet row."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from retain.config import Settings
from retain.errors import DataValidationError
from retain.ingest import ingest
from retain.ingest.excel import cell_text

ORDERS = ["order_id", "customer_id", "ordered_at", "amount", "status"]


def _book(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


@pytest.fixture
def shop(warehouse: Any, tmp_path: Path) -> Any:
    """A DuckDB warehouse with customers 会員1, 회원2 and c3 (loaded from a workbook)."""
    path = _book(
        tmp_path / "顧客.xlsx",
        {
            "顧客": [
                ["customer_id", "country", "名前"],
                ["会員1", "JP", "山田"],
                ["회원2", "KR", "김"],
                ["c3", "us", None],
            ]
        },
    )
    report = ingest("customers", path, con=warehouse, settings=Settings())
    assert report.rows_inserted == 3
    return warehouse


def test_typed_cells_load_as_excel_typed_them(shop: Any, tmp_path: Path) -> None:
    path = _book(
        tmp_path / "orders.xlsx",
        {
            "注文": [
                ORDERS,
                ["o1", "会員1", datetime(2024, 1, 31, 9, 30), 1200, "completed"],
                ["o2", "회원2", date(2024, 2, 1), 12.5, None],
                [None, None, None, None, None],  # a blank row: skipped, lines keep counting
                ["o3", "会員1", "2024-02-03", "7.25", "returned"],
            ]
        },
    )
    report = ingest("orders", path, con=shop, settings=Settings())
    assert (report.rows_read, report.rows_inserted) == (3, 3)
    assert report.source == "orders.xlsx[注文]"
    rows = shop.table("orders").order_by("order_id").to_pandas()
    assert rows.customer_id.tolist() == ["会員1", "회원2", "会員1"]
    assert [str(x) for x in rows.ordered_at] == [
        "2024-01-31 09:30:00",
        "2024-02-01 00:00:00",
        "2024-02-03 00:00:00",
    ]
    assert [Decimal(str(a)) for a in rows.amount] == [
        Decimal(1200),
        Decimal("12.5"),
        Decimal("7.25"),
    ]
    customers = shop.table("customers").to_pandas().set_index("customer_id")
    assert json.loads(customers.attributes["会員1"]) == {"名前": "山田"}
    assert customers.country["회원2"] == "KR"


def test_bad_rows_are_rejected_with_sheet_and_row(shop: Any, tmp_path: Path) -> None:
    path = _book(
        tmp_path / "orders.xlsx",
        {
            "注文": [
                ORDERS,
                ["o1", "会員1", datetime(2024, 1, 31), 10, "completed"],
                ["o2", "会員1", "来週", 10, "completed"],  # row 3: not a date
                ["o3", "会員1", datetime(2024, 1, 31), "#DIV/0!", "completed"],  # row 4
                ["o4", "회원2", datetime(2024, 1, 31), 5, "completed", "stray"],  # row 5
                ["o5", "nobody", datetime(2024, 1, 31), 5, "completed"],  # row 6
            ]
        },
    )
    report = ingest("orders", path, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (5, 1, 4)
    found = sorted((v.row, v.rule, v.file) for v in report.violations)
    assert found == [
        (3, "invalid_date", "orders.xlsx[注文]"),
        (4, "excel_error", "orders.xlsx[注文]"),
        (5, "extra_cells", "orders.xlsx[注文]"),
        (6, "unknown_customer", "orders.xlsx[注文]"),
    ]
    rejects = shop.table("rejects").order_by("row").to_pandas()
    assert rejects.file.unique().tolist() == ["orders.xlsx[注文]"]
    assert rejects.row.tolist() == [3, 4, 5, 6]
    with pytest.raises(DataValidationError) as info:
        ingest("orders", path, con=shop, settings=Settings(), on_error="reject")
    assert info.value.total == 4


def test_a_sheet_is_chosen_by_name_or_number(shop: Any, tmp_path: Path) -> None:
    path = _book(
        tmp_path / "book.xlsx",
        {
            "README": [["This workbook holds two months of orders"]],
            "2024-01": [ORDERS, ["a1", "c3", datetime(2024, 1, 5), 1, "completed"]],
            "2024-02": [ORDERS, ["b1", "会員1", datetime(2024, 2, 5), 2, "completed"]],
        },
    )
    ingest("orders", path, con=shop, settings=Settings(), sheet="2024-02")
    ingest("orders", path, con=shop, settings=Settings(), sheet="2")
    assert sorted(shop.table("orders").order_id.execute()) == ["a1", "b1"]  # "2": 2nd sheet
    with pytest.raises(DataValidationError) as info:
        ingest("orders", path, con=shop, settings=Settings(), sheet="2024-03")
    [problem] = info.value.violations
    assert problem.rule == "missing_sheet" and problem.file == "book.xlsx"
    assert "README, 2024-01, 2024-02" in (problem.hint or "")
    with pytest.raises(DataValidationError) as first:
        ingest("orders", path, con=shop, settings=Settings())  # the first sheet: a note only
    assert [(v.rule, v.file) for v in first.value.violations] == [
        ("empty_file", "book.xlsx[README]")
    ]


def test_a_workbook_in_a_folder_of_csv_files(shop: Any, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text(
        "order_id,customer_id,ordered_at,amount\nx1,c3,2024-01-02,3\n", encoding="utf-8"
    )
    _book(
        folder / "b.xlsx", {"Sheet1": [ORDERS, ["x2", "会員1", date(2024, 1, 3), 4, "completed"]]}
    )
    (folder / "~$b.xlsx").write_bytes(b"lock")  # Excel's lock file while b.xlsx is open
    report = ingest("orders", folder, con=shop, settings=Settings())
    assert report.rows_inserted == 2
    assert report.source == "a.csv, b.xlsx[Sheet1]"


def test_a_corrupt_workbook_names_the_file(shop: Any, tmp_path: Path) -> None:
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    with pytest.raises(DataValidationError) as info:
        ingest("orders", bad, con=shop, settings=Settings())
    [problem] = info.value.violations
    assert (problem.rule, problem.file) == ("unreadable_file", "broken.xlsx")
    text = tmp_path / "renamed.xlsx"
    text.write_text("order_id,customer_id\n1,2\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as again:
        ingest("orders", text, con=shop, settings=Settings())
    assert again.value.violations[0].rule == "unreadable_file"
    legacy = tmp_path / "old.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0 legacy")
    with pytest.raises(DataValidationError) as old:
        ingest("orders", legacy, con=shop, settings=Settings())
    assert old.value.violations[0].rule == "legacy_excel"


def test_an_empty_sheet_and_a_header_only_sheet(shop: Any, tmp_path: Path) -> None:
    empty = _book(tmp_path / "empty.xlsx", {"Sheet1": []})
    with pytest.raises(DataValidationError) as info:
        ingest("orders", empty, con=shop, settings=Settings())
    assert info.value.violations[0].rule == "empty_file"
    header = _book(tmp_path / "header.xlsx", {"Sheet1": [ORDERS]})
    with pytest.raises(DataValidationError) as again:
        ingest("orders", header, con=shop, settings=Settings())
    assert again.value.violations[0].rule == "empty_file"


def test_blank_and_repeated_headers(shop: Any, tmp_path: Path) -> None:
    path = _book(
        tmp_path / "c.xlsx",
        {"Sheet1": [["customer_id", None, "note", "note"], ["c9", "x", "a", "b"]]},
    )
    ingest("customers", path, con=shop, settings=Settings())
    row = shop.table("customers").filter(lambda t: t.customer_id == "c9").to_pandas()
    assert json.loads(row.attributes[0]) == {"column B": "x", "note": "a", "note_1": "b"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        (True, "true"),
        (3, "3"),
        (3.0, "3"),
        (0.1, "0.1"),
        (1e30, "1e+30"),
        (datetime(2024, 5, 6, 7, 8, 9), "2024-05-06 07:08:09"),
        (datetime(2024, 5, 6), "2024-05-06"),
        ("서울", "서울"),
    ],
)
def test_cell_text(value: Any, text: str | None) -> None:
    assert cell_text(value) == text


def test_a_workbook_whose_recorded_size_is_wrong(shop: Any, tmp_path: Path) -> None:
    """Some exporters write ``<dimension ref="A1"/>``: every row and column still loads."""
    import re
    import zipfile

    good = _book(
        tmp_path / "good.xlsx",
        {
            "Sheet1": [
                ORDERS,
                ["w1", "c3", date(2024, 1, 2), 1, "completed"],
                ["w2", "c3", date(2024, 1, 3), 2, None],
            ]
        },
    )
    bad = tmp_path / "exported.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data, n = re.subn(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', data)
                assert n == 1
            dst.writestr(item, data)
    report = ingest("orders", bad, con=shop, settings=Settings())
    assert report.rows_inserted == 2
    assert sorted(shop.table("orders").amount.execute().astype(float)) == [1.0, 2.0]


def test_a_mapping_names_the_sheet_and_the_columns(shop: Any, tmp_path: Path) -> None:
    path = _book(
        tmp_path / "エクスポート.xlsx",
        {
            "説明": [["このファイルについて"]],
            "注文": [
                ["注文番号", "会員ID", "注文日", "金額"],
                ["m1", "会員1", date(2024, 3, 1), 3000],
            ],
        },
    )
    mapping: dict[str, Any] = {
        "sheet": "注文",
        "columns": {
            "order_id": "注文番号",
            "customer_id": "会員ID",
            "ordered_at": "注文日",
            "amount": "金額",
        },
    }
    report = ingest("orders", path, con=shop, settings=Settings(), mapping=mapping)
    assert (report.rows_inserted, report.source) == (1, "エクスポート.xlsx[注文]")


def test_rows_packed_in_several_batches_keep_their_lines(
    shop: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retain.ingest import excel

    monkeypatch.setattr(excel, "_BATCH_ROWS", 2)
    rows: list[list[Any]] = [ORDERS]
    rows += [[f"q{i}", "c3", date(2024, 1, 2), i + 1, "completed"] for i in range(5)]
    rows.insert(4, ["q9", "c3", "not a date", 1, "completed"])  # sheet row 5
    path = _book(tmp_path / "many.xlsx", {"Sheet1": rows})
    report = ingest("orders", path, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_read, report.rows_inserted) == (6, 5)
    assert [(v.row, v.rule) for v in report.violations] == [(5, "invalid_date")]
