"""Loading on DuckDB and on a real PostgreSQL server: idempotent, keyed, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _kill import kill_when_marked
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import retain.warehouse as wh
from retain.config import Settings
from retain.errors import DataValidationError, InvalidParameterError
from retain.ingest import IngestProgress, ingest

HEAD = "order_id,customer_id,ordered_at,amount,status\n"


def _rows(con: Any, table: str) -> list[tuple[Any, ...]]:
    frame = con.table(table).to_pandas()
    key = wh.get_table(table).key if hasattr(wh, "get_table") else None
    frame = frame.sort_values(list(key or frame.columns[:1])).reset_index(drop=True)
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]


@pytest.fixture
def shop(target: Any, tmp_path: Path, write: Any) -> Any:
    ingest(
        "customers",
        write(tmp_path / "customers.csv", "customer_id,email\nc1,a@x.jp\nc2,\n"),
        con=target,
        settings=Settings(),
    )
    return target


def test_loading_the_same_rows_twice_changes_nothing(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(
        tmp_path / "orders.csv",
        HEAD + "o1,c1,2024-01-02,10.5,completed\no2,c2,2024-01-03T10:00:00+09:00,20,\n",
    )
    first = ingest("orders", path, con=shop, settings=Settings())
    before = _rows(shop, "orders")
    second = ingest("orders", path, con=shop, settings=Settings())
    assert (first.rows_inserted, first.rows_updated, first.rows_unchanged) == (2, 0, 0)
    assert (second.rows_inserted, second.rows_updated, second.rows_unchanged) == (0, 0, 2)
    assert _rows(shop, "orders") == before
    batches = shop.table("ingest_batches").filter(lambda b: b.table_name == "orders").to_pandas()
    assert sorted(batches.rows_unchanged.tolist()) == [0, 2]


def test_changed_row_updates_last_write_wins_and_is_counted(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    ingest(
        "orders",
        write(
            tmp_path / "a.csv",
            HEAD + "o1,c1,2024-01-02,10.5,completed\no2,c2,2024-01-03,20,completed\n",
        ),
        con=shop,
        settings=Settings(),
    )
    report = ingest(
        "orders",
        write(
            tmp_path / "b.csv",
            HEAD + "o1,c1,2024-01-02,10.5,completed\n"
            "o2,c2,2024-01-03,20,returned\no3,c1,2024-02-01,1,\n",
        ),
        con=shop,
        settings=Settings(),
    )
    assert (report.rows_inserted, report.rows_updated, report.rows_unchanged) == (1, 1, 1)
    status = dict(shop.table("orders").select("order_id", "status").to_pandas().values.tolist())
    assert status == {"o1": "completed", "o2": "returned", "o3": "completed"}
    batch = (
        shop.table("ingest_batches")
        .filter(lambda b: b.batch_id == report.batch_id)
        .to_pandas()
        .iloc[0]
    )
    assert (batch.rows_inserted, batch.rows_updated, batch.rows_unchanged) == (1, 1, 1)


def test_columns_absent_from_a_batch_keep_their_values(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    report = ingest(
        "customers",
        write(tmp_path / "c2.csv", "customer_id,country\nc1,JP\n"),
        con=shop,
        settings=Settings(),
    )
    assert report.rows_updated == 1
    row = shop.table("customers").filter(lambda c: c.customer_id == "c1").to_pandas().iloc[0]
    assert (row.email, row.country) == ("a@x.jp", "JP")


def test_a_failing_batch_writes_nothing(shop: Any, tmp_path: Path, write: Any) -> None:
    ingest(
        "orders",
        write(tmp_path / "a.csv", HEAD + "o1,c1,2024-01-02,10.5,completed\n"),
        con=shop,
        settings=Settings(),
    )
    before = {t: _rows(shop, t) for t in ("orders", "ingest_batches", "rejects", "customers")}
    bad = write(
        tmp_path / "b.csv", HEAD + "o1,c1,2024-01-02,99,completed\no2,c1,2024-13-01,5,completed\n"
    )
    with pytest.raises(DataValidationError):
        ingest("orders", bad, con=shop, settings=Settings())
    assert {t: _rows(shop, t) for t in before} == before
    assert not [t for t in shop.list_tables() if t.startswith("_retain")]


def test_quarantine_loads_good_rows_and_records_bad_ones(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    path = write(
        tmp_path / "orders.csv",
        HEAD + "o1,c1,2024-01-02,10.5,completed\n"
        "o2,c1,2024-13-01,5,completed\no3,c9,2024-01-02,-1,completed\n"
        "o4,c2,2024-01-05,3,completed\n",
    )
    report = ingest("orders", path, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (4, 2, 2)
    assert report.rejected_by_rule == {"invalid_date": 1, "negative_amount": 1}
    rejects = shop.table("rejects").order_by("row").to_pandas()
    assert rejects.row.tolist() == [3, 4]
    assert rejects.rule.tolist() == ["invalid_date", "negative_amount"]
    assert set(rejects.batch_id) == {report.batch_id}
    assert json.loads(rejects.record[0]) == {
        "order_id": "o2",
        "customer_id": "c1",
        "ordered_at": "2024-13-01",
        "amount": "5",
        "status": "completed",
    }
    assert "is not a date" in rejects.message[0]
    assert sorted(shop.table("orders").order_id.to_pandas()) == ["o1", "o4"]


def test_unknown_customers_can_be_created(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(
        tmp_path / "orders.csv",
        HEAD + "o1,c1,2024-01-02,1,\no2,c7,2024-01-02,1,\n"
        "o3,c7,2024-01-03,1,\no4,c8,2024-01-03,1,\n",
    )
    with pytest.raises(DataValidationError) as info:
        ingest("orders", path, con=shop, settings=Settings())
    assert [v.value for v in info.value.violations] == ["c7", "c7", "c8"]
    report = ingest("orders", path, con=shop, settings=Settings(), unknown_customers="create")
    assert (report.rows_inserted, report.customers_created) == (4, 2)
    created = shop.table("customers").filter(lambda c: c.customer_id.isin(["c7", "c8"]))
    frame = created.to_pandas()
    assert sorted(frame.customer_id) == ["c7", "c8"]
    assert not frame.email_opt_in.any()


def test_progress_reports_each_phase(shop: Any, tmp_path: Path, write: Any) -> None:
    events: list[IngestProgress] = []
    ingest(
        "orders",
        write(tmp_path / "o.csv", HEAD + "o1,c1,2024-01-02,1,\n"),
        con=shop,
        settings=Settings(),
        on_progress=events.append,
    )
    phases = [e.phase for e in events]
    assert phases[0] == "read" and phases[-1] == "done"
    assert {"validate", "write", "write:inserted"} <= set(phases)
    assert all(e.rows == 1 for e in events)


def test_bad_policy_is_refused(shop: Any, tmp_path: Path, write: Any) -> None:
    with pytest.raises(InvalidParameterError, match="quarantine"):
        ingest(
            "orders",
            write(tmp_path / "o.csv", HEAD),
            con=shop,
            settings=Settings(),
            on_error="skip",
        )  # type: ignore[arg-type]


KILLED = """
import os, sys, time
import retain.warehouse as wh
from retain.config import Settings
from retain.ingest import ingest
url, path, marker = sys.argv[1:4]
con = wh.connect(url)

def stall(event):
    if event.phase == "write:updated":     # inside the merge transaction, after the UPDATE
        open(marker, "w").close()
        time.sleep(120)

ingest("orders", path, con=con, settings=Settings(), on_progress=stall)
"""


def test_a_killed_load_leaves_the_warehouse_as_before(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    ingest(
        "orders",
        write(tmp_path / "a.csv", HEAD + "o1,c1,2024-01-02,10.5,completed\n"),
        con=shop,
        settings=Settings(),
    )
    before = {t: _rows(shop, t) for t in ("orders", "ingest_batches", "customers")}
    url = shop.retain_url
    if url.startswith("duckdb"):
        shop.disconnect()  # one process at a time may open a DuckDB file
    big = (
        HEAD
        + "o1,c1,2024-01-02,11.5,returned\n"
        + "".join(f"n{i},c2,2024-01-03,1,completed\n" for i in range(20_000))
    )
    path = write(tmp_path / "b.csv", big)
    marker = tmp_path / "inside-transaction"
    kill_when_marked(KILLED, [url, str(path), str(marker)], marker, "merge")
    con = wh.connect(url)
    try:
        assert {t: _rows(con, t) for t in before} == before
    finally:
        con.disconnect()


@hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["o1", "o2", "o3", "o4"]),
            st.sampled_from(["c1", "c2"]),
            st.integers(0, 10_000),
            st.sampled_from(["completed", "returned", None]),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda r: r[0],
    ),
    then=st.lists(
        st.tuples(st.sampled_from(["o1", "o2", "o5"]), st.integers(0, 99)),
        max_size=3,
        unique_by=lambda r: r[0],
    ),
)
def test_property_ingest_twice_is_a_no_op_and_last_write_wins(
    warehouse: Any,
    rows: list[tuple[str, str, int, str | None]],
    then: list[tuple[str, int]],
) -> None:
    """For any batch: loading it again changes nothing; a later batch's values win per key."""
    for name in ("orders", "customers", "ingest_batches"):
        warehouse.con.execute(f'DELETE FROM "{name}"')
    ingest(
        "customers", pd.DataFrame({"customer_id": ["c1", "c2"]}), con=warehouse, settings=Settings()
    )
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "cents", "status"])
    frame["amount"] = frame.pop("cents") / 100
    frame["ordered_at"] = "2024-01-01"
    ingest("orders", frame, con=warehouse, settings=Settings())
    once = _rows(warehouse, "orders")
    again = ingest("orders", frame, con=warehouse, settings=Settings())
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, len(rows))
    assert _rows(warehouse, "orders") == once
    if then:
        later = pd.DataFrame(
            [(o, "c1", a, "2024-01-02") for o, a in then],
            columns=["order_id", "customer_id", "amount", "ordered_at"],
        )
        report = ingest("orders", later, con=warehouse, settings=Settings())
        got = warehouse.table("orders").to_pandas().set_index("order_id")
        for order_id, amount in then:
            assert float(got.loc[order_id, "amount"]) == amount
        assert report.rows_inserted == len({o for o, _ in then} - set(frame.order_id))


@pytest.mark.spark
@pytest.mark.slow
def test_spark_load_is_idempotent(spark_warehouse: Any) -> None:
    """Spark has no multi-table transactions: the merge rewrites the table via write_table."""
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["c1", "c2"],
            "ordered_at": ["2024-01-02", "2024-01-03"],
            "amount": ["1.5", "2"],
        }
    )
    first = ingest(
        "orders", orders, con=spark_warehouse, settings=Settings(), unknown_customers="create"
    )
    orders.loc[1, "amount"] = "3"
    second = ingest("orders", orders, con=spark_warehouse, settings=Settings())
    assert (first.rows_inserted, first.customers_created) == (2, 2)
    assert (second.rows_inserted, second.rows_updated, second.rows_unchanged) == (0, 1, 1)
    got = spark_warehouse.table("orders").order_by("order_id").to_pandas()
    assert [float(a) for a in got.amount] == [1.5, 3.0]
    assert got.status.tolist() == ["completed", "completed"]
    assert spark_warehouse.table("ingest_batches").count().to_pyarrow().as_py() == 2


@pytest.mark.spark
@pytest.mark.slow
def test_spark_events_are_insert_only(spark_warehouse: Any) -> None:
    """Spark's merge rewrites the table: a stored event must come back exactly as it was."""
    events = pd.DataFrame(
        {
            "event_id": ["e1"],
            "customer_id": ["c1"],
            "occurred_at": ["2024-01-02 10:00:00"],
            "name": ["play"],
            "properties": ['{"a":1,"b":2}'],
        }
    )
    ingest("events", events, con=spark_warehouse, settings=Settings(), unknown_customers="create")
    again = pd.concat(
        [
            events.assign(properties=['{"b": 2, "a": 1}']),
            events.assign(event_id=["e2"], properties=['{"a":3}']),
        ]
    )
    report = ingest("events", again, con=spark_warehouse, settings=Settings())
    assert (report.rows_inserted, report.rows_updated, report.rows_unchanged) == (1, 0, 1)
    got = spark_warehouse.table("events").order_by("event_id").to_pandas()
    assert got.properties.tolist() == ['{"a":1,"b":2}', '{"a":3}']
    changed = events.assign(name=["stop"])
    report = ingest(
        "events", changed, con=spark_warehouse, settings=Settings(), on_error="quarantine"
    )
    assert report.rejected_by_rule == {"event_conflict": 1}
    assert spark_warehouse.table("events").filter(
        lambda t: t.event_id == "e1"
    ).name.to_pyarrow().to_pylist() == ["play"]
