"""Loading the demo: through ingestion into a real DuckDB warehouse, truth as plain tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import retain.warehouse as wh
from retain.config import Settings
from retain.demo import LOAD_ORDER, generate, load_folder, write_demo
from retain.errors import ConflictError, NotFoundError


def _counts(con: Any) -> dict[str, int]:
    return {name: int(con.table(name).count().execute()) for name in LOAD_ORDER}


def test_load_ingests_every_table_and_the_truth(warehouse: Any) -> None:
    business = generate(customers=400, seed=21)
    reports = business.load(warehouse, settings=Settings())
    assert [r.table for r in reports] == list(LOAD_ORDER)
    assert all(r.rows_rejected == 0 for r in reports)
    assert _counts(warehouse) == {n: len(business.tables[n]) for n in LOAD_ORDER}
    # Renewal dates after the window (active annual plans) are accepted and kept as they are.
    ends = warehouse.table("subscriptions").to_pandas()["contract_ends_at"].dropna()
    assert (ends > pd.Timestamp(business.truth.params["end"])).sum() > 3
    expected_ends = business.tables["subscriptions"]["contract_ends_at"].dropna()
    assert sorted(ends) == sorted(expected_ends)
    truth = warehouse.table("demo_truth_customers").to_pandas()
    assert len(truth) == 400 and truth["alive_at_end"].dtype == bool
    campaigns = warehouse.table("demo_truth_campaigns").to_pandas()
    assert list(campaigns["campaign_id"]) == list(business.truth.campaigns["campaign_id"])
    amounts = warehouse.table("orders").to_pandas().set_index("order_id")["amount"].astype(float)
    expected = business.tables["orders"].set_index("order_id")["amount"]
    pd.testing.assert_series_equal(amounts.reindex(expected.index), expected, check_names=False)


def test_a_new_demo_replaces_the_previous_one(warehouse: Any) -> None:
    generate(customers=500, seed=1).load(warehouse, settings=Settings())
    smaller = generate(customers=200, seed=2)
    smaller.load(warehouse, settings=Settings())
    assert _counts(warehouse) == {n: len(smaller.tables[n]) for n in LOAD_ORDER}
    assert int(warehouse.table("demo_truth_customers").count().execute()) == 200


def test_a_warehouse_with_other_data_is_left_alone(warehouse: Any) -> None:
    wh.write_table(warehouse, "customers", pd.DataFrame({"customer_id": ["mine"]}), mode="append")
    business = generate(customers=100, seed=3)
    with pytest.raises(ConflictError, match="not a demo") as info:
        business.load(warehouse, settings=Settings())
    assert "--replace" in (info.value.hint or "")
    assert int(warehouse.table("customers").count().execute()) == 1
    business.load(warehouse, settings=Settings(), replace=True)
    assert int(warehouse.table("customers").count().execute()) == 100


def test_load_folder_reads_streamed_files(tmp_path: Path, warehouse: Any) -> None:
    summary = write_demo(tmp_path, customers=300, seed=4, format="parquet")
    reports = load_folder(tmp_path, con=warehouse, settings=Settings(), format="parquet")
    assert {r.table: r.rows_inserted for r in reports} == summary.rows


def test_load_folder_names_the_missing_file(tmp_path: Path, warehouse: Any) -> None:
    with pytest.raises(NotFoundError, match=r"customers\.csv does not exist") as info:
        load_folder(tmp_path, con=warehouse, settings=Settings(), format="csv")
    assert "retain demo --no-load" in (info.value.hint or "")
