"""The warehouse: connect by URL, create canonical tables, atomic writes, on every engine."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.errors import NotFoundError, UnsupportedBackendError
from retain.schema import TABLES


def test_create_tables_makes_every_table_with_its_schema(engine: Any) -> None:
    assert set(TABLES) <= set(engine.list_tables())
    schema = engine.table("orders").schema()
    assert str(schema["amount"]) == "decimal(18, 4)"
    assert schema["ordered_at"].is_timestamp()
    assert wh.create_tables(engine) == []  # idempotent


def test_write_replace_then_append(engine: Any) -> None:
    wh.write_table(engine, "scratch", pd.DataFrame({"a": [1, 2]}))
    wh.write_table(engine, "scratch", pd.DataFrame({"a": [3, 4, 5]}))
    wh.write_table(engine, "scratch", pd.DataFrame({"a": [6]}), mode="append")
    got = sorted(wh.read_table(engine, "scratch").to_pandas()["a"].tolist())
    assert got == [3, 4, 5, 6]
    assert not [t for t in engine.list_tables() if t.startswith("_retain_tmp_")]


def test_failed_replace_keeps_the_old_table(warehouse: Any) -> None:
    wh.write_table(warehouse, "scratch", pd.DataFrame({"a": [1, 2]}))
    table = warehouse.table("scratch")
    bad = table.mutate(b=ibis.literal("not a number").cast("int64"))
    with pytest.raises(Exception, match=r"(?i)conver|cast"):
        wh.write_table(warehouse, "scratch", bad)
    assert sorted(wh.read_table(warehouse, "scratch").to_pandas()["a"].tolist()) == [1, 2]
    assert not [t for t in warehouse.list_tables() if t.startswith("_retain_tmp_")]


def test_read_missing_table_names_it_and_hints() -> None:
    con = wh.connect("duckdb://")
    with pytest.raises(NotFoundError) as info:
        wh.read_table(con, "orders")
    assert "'orders'" in info.value.message
    assert info.value.hint is not None and "retain ingest orders" in info.value.hint


def test_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(UnsupportedBackendError, match="mysql"):
        wh.connect("mysql://localhost/db")


@pytest.mark.postgres
def test_postgres_round_trip(postgres_warehouse: Any) -> None:
    wh.write_table(postgres_warehouse, "scratch", pd.DataFrame({"a": [1, 2]}))
    wh.write_table(postgres_warehouse, "scratch", pd.DataFrame({"a": [7]}))
    assert wh.read_table(postgres_warehouse, "scratch").to_pandas()["a"].tolist() == [7]
    assert str(postgres_warehouse.table("orders").schema()["amount"]) == "decimal(18, 4)"
