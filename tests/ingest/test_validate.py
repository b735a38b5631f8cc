"""Broken files, one test per rule: each asserts file, line, column, rule and hint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retain.config import Settings
from retain.errors import DataValidationError, MissingColumnError
from retain.ingest import ingest
from retain.ingest.validate import SHOWN

CUSTOMERS = "customer_id\nc1\nc2\n"


def _fail(warehouse: Any, tmp_path: Path, table: str, text: str, **kw: Any) -> DataValidationError:
    path = tmp_path / f"{table}.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        ingest(table, path, con=warehouse, settings=kw.pop("settings", Settings()), **kw)
    return info.value


@pytest.fixture
def shop(warehouse: Any, tmp_path: Path, write: Any) -> Any:
    ingest("customers", write(tmp_path / "c.csv", CUSTOMERS), con=warehouse, settings=Settings())
    return warehouse


# (table, file text, rule, line, column, value, words in the hint)
CASES = [
    (
        "orders",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02,5\no2,c1,2024-13-01,5\n",
        "invalid_date",
        3,
        "ordered_at",
        "2024-13-01",
        "--date-format",
    ),
    (
        "orders",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02,five\n",
        "invalid_number",
        2,
        "amount",
        "five",
        "decimals",
    ),
    (
        "orders",
        "order_id,customer_id,ordered_at,amount\no1,,2024-01-02,5\n",
        "missing_value",
        2,
        "customer_id",
        None,
        "fill",
    ),
    (
        "orders",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02,-5\n",
        "negative_amount",
        2,
        "amount",
        "-5",
        "returned",
    ),
    (
        "orders",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02,5000000\n",
        "absurd_amount",
        2,
        "amount",
        "5000000",
        "max_amount",
    ),
    (
        "orders",
        "order_id,customer_id,ordered_at,amount\no1,c1,2999-01-02,5\n",
        "future_timestamp",
        2,
        "ordered_at",
        "2999-01-02",
        "time_zone",
    ),
    (
        "orders",
        "order_id,customer_id,ordered_at,amount,status\no1,c1,2024-01-02,5,lost\n",
        "invalid_value",
        2,
        "status",
        "lost",
        "completed",
    ),
    (
        "orders",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02,5\no1,c2,2024-01-03,6\n",
        "duplicate_key",
        2,
        "order_id",
        "o1",
        "one row per key",
    ),
    (
        "orders",
        "order_id,customer_id,ordered_at,amount\no1,c9,2024-01-02,5\n",
        "unknown_customer",
        2,
        "customer_id",
        "c9",
        "--unknown-customers create",
    ),
    (
        "order_lines",
        "order_id,line_no,product_id,quantity,unit_price\nnope,1,p,1,2\n",
        "unknown_reference",
        2,
        "order_id",
        "nope",
        "load orders first",
    ),
    (
        "order_lines",
        "order_id,line_no,product_id,quantity,unit_price\no1,0,p,1,2\n",
        "below_minimum",
        2,
        "line_no",
        "0",
        "at least 1",
    ),
    (
        "customers",
        "customer_id,email_opt_in\nc5,maybe\n",
        "invalid_boolean",
        2,
        "email_opt_in",
        "maybe",
        "true/false",
    ),
    (
        "events",
        "event_id,customer_id,occurred_at,name,properties\ne1,c1,2024-01-01,login,{oops\n",
        "invalid_json",
        2,
        "properties",
        "{oops",
        "JSON object",
    ),
]


@pytest.mark.parametrize(
    ("table", "text", "rule", "line", "column", "value", "hint"), CASES, ids=[c[2] for c in CASES]
)
def test_each_rule_names_file_line_column_value_and_hint(
    shop: Any,
    tmp_path: Path,
    write: Any,
    table: str,
    text: str,
    rule: str,
    line: int,
    column: str,
    value: str | None,
    hint: str,
) -> None:
    if table == "order_lines" and rule == "below_minimum":
        ingest(
            "orders",
            write(
                tmp_path / "o.csv", "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02,5\n"
            ),
            con=shop,
            settings=Settings(),
        )
    error = _fail(shop, tmp_path, table, text)
    first = error.violations[0]
    assert (first.rule, first.file, first.row, first.column) == (rule, f"{table}.csv", line, column)
    assert first.value == value
    assert first.hint and hint in first.hint
    assert error.code == f"data.{rule}"
    assert f"{table}.csv line {line}, column {column}" in error.message
    assert hint in (error.hint or "")
    assert shop.table(table).count().to_pyarrow().as_py() == (2 if table == "customers" else 0)


def test_message_has_the_issue_shape(shop: Any, tmp_path: Path) -> None:
    """Issue 4's example:
    ``orders.csv line 5123, column ordered_at: '2024-13-01' is not a date``."""
    rows = "".join(f"o{i},c1,2024-01-02,5\n" for i in range(5121))
    error = _fail(
        shop,
        tmp_path,
        "orders",
        "order_id,customer_id,ordered_at,amount\n" + rows + "oX,c1,2024-13-01,5\n",
    )
    assert str(error.violations[0]) == (
        "orders.csv line 5123, column ordered_at: '2024-13-01' is not a date "
        "(expected ISO 8601 or --date-format) (rule: invalid_date)"
    )


def test_missing_required_column(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(tmp_path / "orders.csv", "order_id,customer_id,amount\no1,c1,5\n")
    with pytest.raises(MissingColumnError) as info:
        ingest("orders", path, con=shop, settings=Settings(), on_error="quarantine")
    v = info.value.violations[0]
    assert (v.rule, v.file, v.column) == ("missing_column", "orders.csv", "ordered_at")
    assert v.hint and "--mapping" in v.hint and "order_id" in v.hint


def test_unknown_column_in_a_table_without_json(shop: Any, tmp_path: Path) -> None:
    error = _fail(
        shop,
        tmp_path,
        "orders",
        "order_id,customer_id,ordered_at,amount,memo\no1,c1,2024-01-02,5,hi\n",
    )
    v = error.violations[0]
    assert (v.rule, v.column) == ("unknown_column", "memo")
    assert v.hint and "ignore" in v.hint


@pytest.mark.parametrize(
    "text", ["", "order_id,customer_id,ordered_at,amount\n"], ids=["zero_bytes", "header_only"]
)
def test_empty_file(shop: Any, tmp_path: Path, text: str) -> None:
    error = _fail(shop, tmp_path, "orders", text)
    assert (error.violations[0].rule, error.violations[0].file) == ("empty_file", "orders.csv")


def test_missing_file_names_the_path(shop: Any, tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as info:
        ingest("orders", tmp_path / "nope.csv", con=shop, settings=Settings())
    assert info.value.violations[0].rule == "missing_file"


def test_every_violation_is_found_and_counted(shop: Any, tmp_path: Path) -> None:
    rows = "".join(f"o{i},c1,2024-13-01,5\n" for i in range(SHOWN + 200))
    error = _fail(shop, tmp_path, "orders", "order_id,customer_id,ordered_at,amount\n" + rows)
    assert error.total == SHOWN + 200
    assert len(error.violations) == SHOWN
    assert f"... and {SHOWN + 200 - 5} more" in error.message


def test_several_rules_on_one_row_are_all_reported(shop: Any, tmp_path: Path) -> None:
    error = _fail(
        shop, tmp_path, "orders", "order_id,customer_id,ordered_at,amount\no1,c1,someday,lots\n"
    )
    assert {(v.column, v.rule) for v in error.violations} == {
        ("ordered_at", "invalid_date"),
        ("amount", "invalid_number"),
    }


def test_returns_may_be_negative(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount,status\no1,c1,2024-01-02,-5,returned\n",
    )
    report = ingest("orders", path, con=shop, settings=Settings())
    assert report.rows_inserted == 1


def test_numbers_with_surrounding_whitespace_parse(shop: Any, tmp_path: Path, write: Any) -> None:
    # Quoted fields keep their blanks; the number casts must still read them.
    path = write(
        tmp_path / "orders.csv",
        'order_id,customer_id,ordered_at,amount\no1,c1,2024-01-02," 5.5 "\n'
        'o2,c1,2024-01-03,"\t7\n"\n'
        "o3,c1,2024-01-04,\u00a08\u00a0\n"  # no-break spaces
        "o4,c1,2024-01-05,\u30009.25\u3000\n",  # ideographic (full-width) spaces
    )
    report = ingest("orders", path, con=shop, settings=Settings())
    assert report.rows_inserted == 4
    amounts = shop.table("orders").order_by("order_id").amount.to_pyarrow().to_pylist()
    assert [float(a) for a in amounts] == [5.5, 7.0, 8.0, 9.25]


def test_messages_are_translated(shop: Any, tmp_path: Path) -> None:
    from retain.i18n import language

    with language("ja"):
        error = _fail(
            shop, tmp_path, "orders", "order_id,customer_id,ordered_at,amount\no1,c1,2024-13-01,5\n"
        )
    assert "日付" in error.violations[0].message
    assert error.violations[0].rule == "invalid_date"
