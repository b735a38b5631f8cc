"""Every input form: encodings, delimiters, Parquet, JSON Lines, folders, gzip and frames."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retain.config import Settings
from retain.errors import DataValidationError, InvalidParameterError
from retain.ingest import ingest

JA = "customer_id,country,氏名\nc1,JP,山田太郎\nc2,JP,佐藤花子\n"
KO = "customer_id,country,이름\nc1,KR,김민준\nc2,KR,이서연\n"


def _customers(con: Any) -> pd.DataFrame:
    return con.table("customers").order_by("customer_id").to_pandas()


@pytest.mark.parametrize(
    ("encoding", "text", "column", "name"),
    [
        ("shift_jis", JA, "氏名", "山田太郎"),
        ("cp932", JA.replace("太郎", "髙橋"), "氏名", "山田髙橋"),
        ("euc-kr", KO, "이름", "김민준"),
        ("cp949", KO, "이름", "김민준"),
        ("utf-8", JA, "氏名", "山田太郎"),
    ],
)
def test_every_encoding(
    warehouse: Any, tmp_path: Path, write: Any, encoding: str, text: str, column: str, name: str
) -> None:
    path = write(tmp_path / "customers.csv", text, encoding)
    report = ingest("customers", path, con=warehouse, settings=Settings(), encoding=encoding)
    assert report.rows_inserted == 2
    got = _customers(warehouse)
    assert json.loads(got.attributes[0]) == {column: name}


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_wrong_encoding_names_file_and_hints(
    warehouse: Any, tmp_path: Path, write: Any, encoding: str
) -> None:
    """A Shift_JIS export read as UTF-8 (DuckDB decodes) or as ASCII (transcoded first)."""
    path = write(tmp_path / "customers.csv", "customer_id,name\nc1,x\nc2,山田\n", "shift_jis")
    with pytest.raises(DataValidationError) as info:
        ingest("customers", path, con=warehouse, settings=Settings(), encoding=encoding)
    v = info.value.violations[0]
    # The record with the bad bytes is named (line 3), whichever reader met the bytes first.
    assert (v.rule, v.file, v.row) == ("bad_encoding", "customers.csv", 3)
    assert v.hint and "--encoding" in v.hint and "cp932" in v.hint
    assert warehouse.table("customers").count().to_pyarrow().as_py() == 0


def test_unknown_encoding(warehouse: Any, tmp_path: Path, write: Any) -> None:
    path = write(tmp_path / "c.csv", "customer_id\nc1\n")
    with pytest.raises(InvalidParameterError, match="klingon"):
        ingest("customers", path, con=warehouse, settings=Settings(), encoding="klingon")


@pytest.mark.parametrize(
    ("delimiter", "sep"), [(None, ";"), ("\t", "\t"), ("|", "|"), ("whitespace", "   ")]
)
def test_delimiters(
    warehouse: Any, tmp_path: Path, write: Any, delimiter: str | None, sep: str
) -> None:
    text = "\n".join(sep.join(r) for r in [["customer_id", "country"], ["c1", "JP"], ["c2", "KR"]])
    path = write(tmp_path / "customers.txt", text + "\n")
    ingest("customers", path, con=warehouse, settings=Settings(), delimiter=delimiter)
    assert _customers(warehouse).country.tolist() == ["JP", "KR"]


def _orders_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["c1", "c1"],
            "ordered_at": pd.to_datetime(["2024-01-02 10:00", "2024-01-03 11:00"]),
            "amount": [10.5, 20.0],
        }
    )


@pytest.fixture
def shop(warehouse: Any) -> Any:
    ingest("customers", pd.DataFrame({"customer_id": ["c1"]}), con=warehouse, settings=Settings())
    return warehouse


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_frames(shop: Any, kind: str) -> None:
    frame: Any = _orders_frame()
    if kind == "polars":
        frame = pl.from_pandas(frame)
    elif kind == "pyarrow":
        frame = pa.Table.from_pandas(frame)
    report = ingest("orders", frame, con=shop, settings=Settings())
    assert (report.rows_inserted, report.source) == (2, "<frame>")
    got = shop.table("orders").order_by("order_id").to_pandas()
    assert got.ordered_at.astype(str).tolist() == ["2024-01-02 10:00:00", "2024-01-03 11:00:00"]
    assert [float(a) for a in got.amount] == [10.5, 20.0]


def test_frame_rows_are_reported_by_position(shop: Any) -> None:
    frame = _orders_frame()
    frame.loc[1, "customer_id"] = None
    with pytest.raises(DataValidationError) as info:
        ingest("orders", frame, con=shop, settings=Settings())
    v = info.value.violations[0]
    assert (v.file, v.row, v.column, v.rule) == ("<frame>", 1, "customer_id", "missing_value")


def test_parquet_jsonl_gzip_and_folder(shop: Any, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    frame = _orders_frame()
    pq.write_table(pa.Table.from_pandas(frame.iloc[:1]), folder / "a.parquet")
    with (folder / "b.jsonl").open("w") as fh:
        fh.write(
            json.dumps(
                {
                    "order_id": "o2",
                    "customer_id": "c1",
                    "ordered_at": "2024-01-03T11:00:00Z",
                    "amount": 20,
                }
            )
            + "\n"
        )
    with gzip.open(folder / "c.csv.gz", "wt") as fh:
        fh.write("order_id,customer_id,ordered_at,amount\no3,c1,2024-01-04,7\n")
    for path in (folder / "a.parquet", folder / "b.jsonl", folder / "c.csv.gz"):
        report = ingest("orders", path, con=shop, settings=Settings())
        assert report.rows_inserted == 1, path
    report = ingest("orders", [folder / "c.csv.gz"], con=shop, settings=Settings())
    assert report.rows_unchanged == 1
    assert shop.table("orders").count().to_pyarrow().as_py() == 3


def test_folder_of_csv_files_keeps_each_files_line_numbers(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    head = "order_id,customer_id,ordered_at,amount\n"
    write(folder / "2024-01.csv", head + "o1,c1,2024-01-02,5\no2,c1,2024-01-03,5\n")
    write(folder / "2024-02.csv", head + "o3,c1,2024-02-02,5\no4,c1,2024-02-31,5\n")
    with pytest.raises(DataValidationError) as info:
        ingest("orders", folder, con=shop, settings=Settings())
    v = info.value.violations[0]
    assert (v.file, v.row, v.rule) == ("2024-02.csv", 3, "invalid_date")
    write(folder / "2024-02.csv", head + "o3,c1,2024-02-02,5\no4,c1,2024-02-28,5\n")
    assert ingest("orders", folder, con=shop, settings=Settings()).rows_inserted == 4


def test_files_may_differ_in_optional_columns(shop: Any, tmp_path: Path, write: Any) -> None:
    """One export has ``status``, the next does not: both load (issue 16, item 15)."""
    a = write(
        tmp_path / "a.csv",
        "order_id,customer_id,ordered_at,amount,status\no1,c1,2024-01-02,5,returned\n",
    )
    b = write(tmp_path / "b.csv", "order_id,customer_id,ordered_at,amount\no2,c1,2024-01-03,6\n")
    report = ingest("orders", [a, b], con=shop, settings=Settings())
    assert report.rows_inserted == 2
    got = shop.table("orders").order_by("order_id").to_pandas()
    assert got.status.tolist() == ["returned", "completed"]


def test_a_file_without_a_required_column_is_named(shop: Any, tmp_path: Path, write: Any) -> None:
    a = write(tmp_path / "a.csv", "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02,5\n")
    b = write(tmp_path / "b.csv", "order_id,customer_id,ordered_at\no2,c1,2024-01-02\n")
    with pytest.raises(DataValidationError) as info:
        ingest("orders", [a, b], con=shop, settings=Settings())
    v = info.value.violations[0]
    assert (v.rule, v.file, v.column) == ("missing_column", "b.csv", "amount")


def test_time_zones(shop: Any, tmp_path: Path, write: Any) -> None:
    """Offsets are honoured; naive times are read in the configured zone; stored as naive UTC."""
    path = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount\n"
        "o1,c1,2024-01-02 09:00:00,5\n"
        "o2,c1,2024-01-02T09:00:00+09:00,5\n"
        "o3,c1,2015-02-24 11:35:52 -0800,5\n"
        "o4,c1,2024-01-02T00:30:00Z,5\n",
    )
    ingest("orders", path, con=shop, settings=Settings(time_zone="Asia/Tokyo"))
    got = shop.table("orders").order_by("order_id").to_pandas().ordered_at.astype(str).tolist()
    assert got == [
        "2024-01-02 00:00:00",
        "2024-01-02 00:00:00",
        "2015-02-24 19:35:52",
        "2024-01-02 00:30:00",
    ]


def test_date_format_option(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount\no1,c1,31.01.2024 13:05,5\n",
    )
    with pytest.raises(DataValidationError):
        ingest("orders", path, con=shop, settings=Settings())
    ingest("orders", path, con=shop, settings=Settings(), date_format="%d.%m.%Y %H:%M")
    got = shop.table("orders").to_pandas().ordered_at.astype(str).tolist()
    assert got == ["2024-01-31 13:05:00"]
