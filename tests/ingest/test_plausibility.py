"""Limits and plausibility (#16 item 13): each implausible value has its own rule, never a load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retain.config import Settings
from retain.errors import DataValidationError
from retain.ingest import ingest

ORDERS = "order_id,customer_id,ordered_at,amount\n"


@pytest.fixture
def shop(warehouse: Any, tmp_path: Path, write: Any) -> Any:
    ingest("customers", write(tmp_path / "c.csv", "customer_id\nc1\n"), con=warehouse)
    return warehouse


def _violations(con: Any, tmp_path: Path, table: str, text: str, **kw: Any) -> list[Any]:
    path = tmp_path / f"{table}.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        ingest(table, path, con=con, settings=kw.pop("settings", Settings()), **kw)
    return info.value.violations


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("1e30", "absurd_amount"),
        ("-1e30", "absurd_amount"),
        ("123456789012345678901234", "absurd_amount"),
        ("0.00001", "excess_precision"),
        ("12.34567", "excess_precision"),
        ("five", "invalid_number"),
    ],
)
def test_implausible_amounts_get_their_own_rule(
    shop: Any, tmp_path: Path, value: str, rule: str
) -> None:
    found = _violations(shop, tmp_path, "orders", ORDERS + f"o1,c1,2024-01-02,{value}\n")
    assert [(v.rule, v.row, v.column, v.value) for v in found] == [(rule, 2, "amount", value)]


def test_trailing_zeros_and_four_decimals_still_load(shop: Any, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(ORDERS + "o1,c1,2024-01-02,1.50000\no2,c1,2024-01-02, 0.1234 \n")
    assert ingest("orders", path, con=shop).rows_inserted == 2


@pytest.mark.parametrize("value", ["0001-01-01", "1899-12-31 23:59:59"])
def test_timestamps_before_the_floor_are_rejected(shop: Any, tmp_path: Path, value: str) -> None:
    found = _violations(shop, tmp_path, "orders", ORDERS + f"o1,c1,{value},5\n")
    assert [(v.rule, v.row, v.column) for v in found] == [("early_timestamp", 2, "ordered_at")]
    assert "earliest_timestamp" in (found[0].hint or "")


def test_the_floor_is_configurable(shop: Any, tmp_path: Path) -> None:
    settings = Settings(ingest={"earliest_timestamp": "2020-01-01"})
    found = _violations(
        shop, tmp_path, "orders", ORDERS + "o1,c1,2019-06-01,5\n", settings=settings
    )
    assert [v.rule for v in found] == ["early_timestamp"]
    path = tmp_path / "old.csv"
    path.write_text(ORDERS + "o1,c1,1850-06-01,5\n")
    lenient = Settings(ingest={"earliest_timestamp": "1800-01-01"})
    assert ingest("orders", path, con=shop, settings=lenient).rows_inserted == 1


@pytest.mark.parametrize(
    ("column", "good", "bad", "rule"),
    [
        ("country", "jp", "Japan", "invalid_country"),
        ("country", "KR", "XX", "invalid_country"),
        ("language", "pt-BR", "japanese!", "invalid_language"),
        ("language", "ko", "1", "invalid_language"),
        ("time_zone", "Asia/Tokyo", "Tokyo", "invalid_time_zone"),
        ("time_zone", "UTC", "GMT+25", "invalid_time_zone"),
    ],
)
def test_customer_vocabularies(
    warehouse: Any, tmp_path: Path, column: str, good: str, bad: str, rule: str
) -> None:
    text = f"customer_id,{column}\nc1,{good}\nc2,{bad}\n"
    found = _violations(warehouse, tmp_path, "customers", text)
    assert [(v.rule, v.row, v.column, v.value) for v in found] == [(rule, 3, column, bad)]


def test_a_64_kb_field_and_a_nul_byte_are_rejected_in_quarantine(
    warehouse: Any, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(
        b"customer_id,acquisition_channel\nc1,web\nc2," + b"x" * 65_536 + b"\nc3,st\x00ore\nc4,ad\n"
    )
    report = ingest("customers", path, con=warehouse, on_error="quarantine")
    assert report.rows_inserted == 2
    assert report.rejected_by_rule == {"field_too_large": 1, "nul_byte": 1}
    assert [(v.rule, v.row) for v in report.violations] == [
        ("field_too_large", 3),
        ("nul_byte", 4),
    ]
