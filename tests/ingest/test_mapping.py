"""Column mappings: a company's own export loads without editing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retain.config import Settings
from retain.errors import ConfigError, DataValidationError
from retain.ingest import Mapping, ingest, read_mapping

EXPORT = (
    "注文番号,会員ID,注文日時,税込金額,値引,状態,メモ\n"
    "A-1,m1,2024/03/01 10:15,1100,100,完了,急ぎ\n"
    "A-2,m2,2024/03/02 11:00,2200,0,キャンセル,\n"
)

MAPPING = """
encoding = "cp932"
ignore = ["メモ"]

[columns]
order_id = "注文番号"
customer_id = "会員ID"
ordered_at = "注文日時"
amount = 'CAST("税込金額" AS DECIMAL(18, 4)) - CAST("値引" AS DECIMAL(18, 4))'
status = "状態"

[constants]
currency = "JPY"

[date_formats]
ordered_at = ["%Y/%m/%d %H:%M", "%Y/%m/%d"]

[values.status]
"完了" = "completed"
"キャンセル" = "cancelled"
"""


@pytest.fixture
def members(warehouse: Any, tmp_path: Path, write: Any) -> Any:
    path = write(tmp_path / "members.csv", "会員ID,国,ランク\nm1,JP,gold\nm2,JP,\n", "cp932")
    mapping = {"encoding": "cp932", "columns": {"customer_id": "会員ID", "country": "国"}}
    report = ingest("customers", path, con=warehouse, settings=Settings(), mapping=mapping)
    assert report.rows_inserted == 2
    return warehouse


def test_a_japanese_export_loads_through_a_mapping_file(
    members: Any, tmp_path: Path, write: Any
) -> None:
    export = write(tmp_path / "注文.csv", EXPORT, "cp932")
    mapping = write(tmp_path / "mapping.toml", MAPPING)
    report = ingest(
        "orders", export, con=members, settings=Settings(time_zone="Asia/Tokyo"), mapping=mapping
    )
    assert report.rows_inserted == 2
    got = members.table("orders").order_by("order_id").to_pandas()
    assert got.order_id.tolist() == ["A-1", "A-2"]
    assert [float(a) for a in got.amount] == [1000.0, 2200.0]
    assert got.status.tolist() == ["completed", "cancelled"]
    assert got.currency.tolist() == ["JPY", "JPY"]
    assert got.ordered_at.astype(str).tolist() == ["2024-03-01 01:15:00", "2024-03-02 02:00:00"]


def test_unmapped_columns_go_to_attributes(members: Any) -> None:
    got = members.table("customers").order_by("customer_id").to_pandas()
    assert got.country.tolist() == ["JP", "JP"]
    assert [json.loads(a) for a in got.attributes] == [{"ランク": "gold"}, {"ランク": None}]


def test_properties_column_is_merged_with_extra_columns(warehouse: Any) -> None:
    import pandas as pd

    ingest("customers", pd.DataFrame({"customer_id": ["c1"]}), con=warehouse, settings=Settings())
    frame = pd.DataFrame(
        {
            "event_id": ["e1"],
            "customer_id": ["c1"],
            "occurred_at": ["2024-01-01"],
            "name": ["login"],
            "properties": ['{"device": "ios"}'],
            "screen": ["home"],
        }
    )
    ingest("events", frame, con=warehouse, settings=Settings())
    props = json.loads(warehouse.table("events").properties.to_pandas()[0])
    assert props == {"device": "ios", "screen": "home"}


def test_mapping_file_errors_name_the_problem(tmp_path: Path, write: Any) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_mapping(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="invalid mapping"):
        read_mapping(write(tmp_path / "bad.toml", "[columns\n"))
    with pytest.raises(ConfigError, match="colums"):
        read_mapping(write(tmp_path / "typo.toml", "[colums]\norder_id = 'x'\n"))


def test_mapping_to_a_column_the_table_lacks(members: Any, tmp_path: Path, write: Any) -> None:
    export = write(tmp_path / "o.csv", "id\n1\n")
    with pytest.raises(ConfigError) as info:
        ingest(
            "orders",
            export,
            con=members,
            settings=Settings(),
            mapping=Mapping(columns={"order_number": "id"}),
        )
    assert "order_number" in info.value.message
    assert info.value.hint and "ordered_at" in info.value.hint


def test_a_broken_expression_is_a_config_error(members: Any, tmp_path: Path, write: Any) -> None:
    export = write(tmp_path / "o.csv", "id,who,at,yen\n1,m1,2024-01-01,5\n")
    mapping = Mapping(
        columns={"order_id": "id", "customer_id": "who", "ordered_at": "at", "amount": "yen +* 2"}
    )
    with pytest.raises(ConfigError) as info:
        ingest("orders", export, con=members, settings=Settings(), mapping=mapping)
    assert "amount" in info.value.message and "yen +* 2" in info.value.message


def test_mapped_values_are_still_validated(members: Any, tmp_path: Path, write: Any) -> None:
    export = write(tmp_path / "注文.csv", EXPORT.replace("キャンセル", "保留"), "cp932")
    with pytest.raises(DataValidationError) as info:
        ingest(
            "orders",
            export,
            con=members,
            settings=Settings(),
            mapping=write(tmp_path / "m.toml", MAPPING),
        )
    v = info.value.violations[0]
    assert (v.file, v.row, v.column, v.rule, v.value) == (
        "注文.csv",
        3,
        "status",
        "invalid_value",
        "保留",
    )


def test_whitespace_file_without_header_takes_names_from_the_mapping(
    warehouse: Any, tmp_path: Path, write: Any
) -> None:
    path = write(tmp_path / "c.txt", "  c1   JP\n  c2   KR\n")
    mapping = Mapping(
        delimiter="whitespace", header=False, source_columns=("customer_id", "country")
    )
    ingest("customers", path, con=warehouse, settings=Settings(), mapping=mapping)
    got = warehouse.table("customers").order_by("customer_id").to_pandas()
    assert got.country.tolist() == ["JP", "KR"]
