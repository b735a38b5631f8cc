"""Malformed CSV records are rejected one by one with file, line and rule (issue 16, item 12).

Before, one such record rejected the whole file, often with a wrong diagnosis (``missing_column``
for a ragged row, "line 1" for a 3 MB field, no reason past DuckDB's sample) or loaded silently
(a short row padded with NULLs, ``"x"y``). Lines are physical lines of the file: a quoted field
spanning lines counts every line, so an editor's line number finds the record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retain.config import Settings
from retain.errors import DataValidationError
from retain.ingest import ingest

HEAD = "order_id,customer_id,ordered_at,amount,status\n"
ROWS = 8_000


@pytest.fixture
def duck_shop(warehouse: Any, tmp_path: Path, write: Any) -> Any:
    """A DuckDB warehouse with customers c0..c9."""
    customers = "customer_id\n" + "".join(f"c{i}\n" for i in range(10))
    ingest("customers", write(tmp_path / "customers.csv", customers), con=warehouse)
    return warehouse


def _orders(broken: dict[int, str], n: int = ROWS) -> str:
    """``n`` orders; ``broken`` maps a physical line (header = line 1) to its replacement."""
    lines = [f"o{i},c{i % 10},2024-01-02 10:00:00,{i % 500}.25,completed\n" for i in range(n)]
    for line, text in broken.items():
        lines[line - 2] = text
    return HEAD + "".join(lines)


def _rejects(con: Any) -> list[tuple[str, int, str]]:
    frame = con.table("rejects").order_by("row").to_pandas()
    return list(zip(frame.file, frame.row.astype(int), frame.rule, strict=True))


def _names(con: Any) -> list[str]:
    frame = con.table("customers").order_by("customer_id").to_pandas()
    return [json.loads(a)["name"] for a in frame.attributes]


QUARANTINE = Settings(ingest={"on_error": "quarantine"})


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("o4998,c1,2024-01-02 10:00:00,1\n", "ragged_row"),  # short: DuckDB pads it with NULL
        ("o4998,c1,2024-01-02 10:00:00,1,completed,extra\n", "ragged_row"),
        ('o4998,"c"1,2024-01-02 10:00:00,1,completed\n', "bad_quoting"),
        ("o4998,c1,2024-01-02 10:00:00,1,compl\x00eted\n", "nul_byte"),
        ("o4998,c1,2024-01-02 10:00:00,1," + "x" * 3_000_000 + "\n", "field_too_large"),
    ],
    ids=["short", "long", "quote", "nul", "3mb"],
)
def test_one_bad_record_at_line_5000_is_quarantined_and_the_rest_loads(
    duck_shop: Any, tmp_path: Path, write: Any, bad: str, rule: str
) -> None:
    path = write(tmp_path / "orders.csv", _orders({5_000: bad}))
    report = ingest("orders", path, con=duck_shop, settings=QUARANTINE)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (ROWS, ROWS - 1, 1)
    assert report.rejected_by_rule == {rule: 1}
    assert _rejects(duck_shop) == [("orders.csv", 5_000, rule)]
    record = json.loads(duck_shop.table("rejects").to_pandas().record[0])
    assert record["raw"].startswith("o4998,")
    assert duck_shop.table("orders").count().execute() == ROWS - 1


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize(
    "bad",
    ["o24998,c1,2024-01-02 10:00:00,1", "o24998,c1,2024-01-02 10:00:00,1,completed,extra"],
    ids=["short", "long"],
)
def test_a_ragged_row_past_the_sniff_sample_of_a_file_without_quotes_is_found(
    duck_shop: Any, tmp_path: Path, write: Any, bad: str, newline: str
) -> None:
    # A file with no quote, NUL or stray CR skips the line check: DuckDB's strict read must
    # then fail on the ragged row itself (line 25,000, past its 20,480-row sample), never pad
    # or drop it, so that the rescan names it.
    rows = 30_000
    text = _orders({25_000: bad + "\n"}, n=rows).replace("\n", newline)
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode())
    report = ingest("orders", path, con=duck_shop, settings=QUARANTINE)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (rows, rows - 1, 1)
    assert _rejects(duck_shop) == [("orders.csv", 25_000, "ragged_row")]


@pytest.mark.parametrize("end", ["\n", ""], ids=["newline", "no-newline"])
@pytest.mark.parametrize(
    ("rows", "extra"),
    [(100, ","), (30_000, ","), (2, ",x"), (100, ",x")],
    ids=["trailing-100", "trailing-30000", "long-2", "long-100"],
)
def test_a_ragged_last_row_of_a_file_without_quotes_is_found(
    duck_shop: Any, tmp_path: Path, rows: int, extra: str, end: str
) -> None:
    # DuckDB's strict read drops a trailing empty field of the last line (the row loaded
    # silently), and a long last row in its sample changes how many columns it reads (the
    # whole file refused as 'empty_file'): the file must still reach the rescan.
    text = _orders({}, n=rows)
    text = text[:-1] + extra + end
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode())
    report = ingest("orders", path, con=duck_shop, settings=QUARANTINE)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (rows, rows - 1, 1)
    assert _rejects(duck_shop) == [("orders.csv", rows + 1, "ragged_row")]


@pytest.mark.parametrize("encoding", ["utf-8", "cp932", "euc-kr"])
@pytest.mark.parametrize(
    ("line", "bad"),
    [(2, "o0,c0\n"), (42, "o40,c1,2024-01-02 10:00:00,1,completed,extra\n"), (51, "x\n")],
    ids=["short-first", "long-middle", "one-field"],
)
def test_a_ragged_row_that_outvotes_the_sniffer_of_a_small_file_is_found(
    duck_shop: Any, tmp_path: Path, line: int, bad: str, encoding: str
) -> None:
    # In 100 rows one ragged line made DuckDB read the file as a single column: the whole
    # file was refused for missing columns, with no line, instead of the row's ragged_row.
    text = _orders({line: bad}, n=100)
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode(encoding))
    report = ingest("orders", path, con=duck_shop, settings=QUARANTINE, encoding=encoding)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (100, 99, 1)
    assert _rejects(duck_shop) == [("orders.csv", line, "ragged_row")]


def test_reject_mode_names_the_first_problems_by_line_and_counts_them(
    duck_shop: Any, tmp_path: Path, write: Any
) -> None:
    broken = {line: f"o{line},c1,2024-01-02\n" for line in range(100, 1_000, 100)}
    broken[50] = 'o50,"c1,2024-01-02 10:00:00,1,completed\n'  # unclosed quote
    path = write(tmp_path / "orders.csv", _orders(broken))
    with pytest.raises(DataValidationError) as info:
        ingest("orders", path, con=duck_shop, settings=Settings())
    error = info.value
    assert error.total == 10
    assert [(v.rule, v.row) for v in error.violations[:3]] == [
        ("bad_quoting", 50),
        ("ragged_row", 100),
        ("ragged_row", 200),
    ]
    assert "orders.csv line 50" in str(error) and "and 5 more" in str(error)
    assert "3 fields where the header has 5" in str(error)
    assert duck_shop.table("orders").count().execute() == 0


def test_an_unclosed_quote_costs_one_record_not_the_rest_of_the_file(
    duck_shop: Any, tmp_path: Path, write: Any
) -> None:
    path = write(
        tmp_path / "orders.csv",
        _orders(
            {
                3: 'o1,"c1,2024-01-02 10:00:00,1,completed\n',
                6: 'o4,c4,2024-01-02 10:00:00,"1,completed\n',
            },
            10,
        ),
    )
    report = ingest("orders", path, con=duck_shop, settings=QUARANTINE)
    assert _rejects(duck_shop) == [
        ("orders.csv", 3, "bad_quoting"),
        ("orders.csv", 6, "bad_quoting"),
    ]
    assert report.rows_inserted == 8


def test_lines_are_physical_lines_after_a_multi_line_quoted_field(
    warehouse: Any, tmp_path: Path, write: Any
) -> None:
    text = (
        "customer_id,name\n"  # line 1
        'c1,"Yamada\nTaro\nSan"\n'  # lines 2-4: one record
        "c2,Kim\n"  # line 5
        "c3,Lee,extra\n"  # line 6: ragged
        "c4,Park\n"  # line 7
    )
    path = write(tmp_path / "customers.csv", text)
    report = ingest("customers", path, con=warehouse, settings=QUARANTINE)
    assert _rejects(warehouse) == [("customers.csv", 6, "ragged_row")]
    assert report.rows_inserted == 3
    names = _names(warehouse)
    assert names == ["Yamada\nTaro\nSan", "Kim", "Park"]


def test_a_later_rule_after_a_multi_line_field_names_the_physical_line(
    duck_shop: Any, tmp_path: Path, write: Any
) -> None:
    text = (
        "customer_id,name,email\n"
        'c1,"a\nb",a@x.jp\n'  # lines 2-3
        "c2,c,d@x.jp,extra\n"  # line 4: ragged, sends the file to the rescan
        "c3,e,\n"  # line 5
        "c4,f,g@x.jp\n"  # line 6
    )
    path = write(tmp_path / "customers.csv", text)
    with pytest.raises(DataValidationError) as info:
        ingest("customers", path, con=duck_shop, settings=Settings())
    assert [(v.rule, v.row) for v in info.value.violations] == [("ragged_row", 4)]


def test_a_bad_byte_in_a_cp932_file_rejects_that_record_only(
    warehouse: Any, tmp_path: Path
) -> None:
    good = "customer_id,name\nc1,山田\nc2,佐藤\n".encode("cp932")
    path = tmp_path / "customers.csv"
    path.write_bytes(good + b"c3,\x81\xff\n" + "c4,鈴木\n".encode("cp932"))
    report = ingest("customers", path, con=warehouse, settings=QUARANTINE, encoding="cp932")
    assert _rejects(warehouse) == [("customers.csv", 4, "bad_encoding")]
    names = _names(warehouse)
    assert names == ["山田", "佐藤", "鈴木"]
    assert report.rows_inserted == 3


@pytest.mark.parametrize("name", ["README.md", "notes.txt"])
def test_a_folder_refuses_files_that_are_not_data_by_name(
    duck_shop: Any, tmp_path: Path, write: Any, name: str
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write(folder / "orders.csv", _orders({}, 3))
    write(folder / name, "order_id,customer_id\nnot,data\n")
    with pytest.raises(DataValidationError) as info:
        ingest("orders", folder, con=duck_shop, settings=Settings())
    v = info.value.violations[0]
    assert (v.rule, v.file) == ("not_data_file", name)
    assert duck_shop.table("orders").count().execute() == 0
