"""A first load into an empty DuckDB table is renamed into place, all or nothing (issue 21).

The typed batch is written once, as a committed table of the warehouse shaped like the target;
a clean batch into an empty target takes the target's place in the merge transaction. These
tests pin what must not change for that: the target's columns and types, the batch record,
that a failed or killed load leaves the warehouse as it was, and that a non-empty target still
gets the keyed merge.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _kill import kill_when_marked

import retain.warehouse as wh
from retain.config import Settings
from retain.errors import DataValidationError
from retain.ingest import ingest
from retain.ingest.swap import PREFIX, batch_table

HEAD = "order_id,customer_id,ordered_at,amount,status\n"


def _orders(n: int, start: int = 0, amount: str = "1.50") -> str:
    return HEAD + "".join(
        f"o{i},c{i % 2 + 1},2024-01-02 10:00:00,{amount},completed\n" for i in range(start, n)
    )


def _ddl(con: Any) -> str:
    row = con.con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'orders'").fetchone()
    return str(row[0])


def _batch_tables(con: Any) -> list[str]:
    rows = con.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)", [PREFIX]
    ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def shop(warehouse: Any, tmp_path: Path, write: Any) -> Any:
    ingest("customers", write(tmp_path / "c.csv", "customer_id\nc1\nc2\n"), con=warehouse)
    return warehouse


def test_a_first_load_keeps_the_tables_shape_and_records_the_batch(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    ddl = _ddl(shop)
    report = ingest("orders", write(tmp_path / "o.csv", _orders(50)), con=shop)
    assert (report.rows_read, report.rows_inserted, report.rows_updated) == (50, 50, 0)
    assert _ddl(shop) == ddl
    assert _batch_tables(shop) == []
    frame = shop.table("orders").to_pandas()
    assert len(frame) == 50 and set(frame.status) == {"completed"}
    assert frame.channel.isna().all()
    batch = shop.table("ingest_batches").filter(lambda t: t.table_name == "orders").to_pandas()
    assert list(batch.rows_inserted) == [50] and list(batch.rows_read) == [50]
    # A second load of the same rows merges by key into the now non-empty table.
    again = ingest("orders", write(tmp_path / "o2.csv", _orders(60)), con=shop)
    assert (again.rows_inserted, again.rows_unchanged) == (10, 50)
    assert shop.table("orders").count().execute() == 60
    assert _ddl(shop) == ddl


def test_a_rejected_first_load_leaves_no_table_behind(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    text = _orders(50) + "o99,c9,2024-01-02 10:00:00,1.00,completed\n"  # an unknown customer
    with pytest.raises(DataValidationError) as info:
        ingest("orders", write(tmp_path / "o.csv", text), con=shop)
    assert [(v.row, v.rule) for v in info.value.violations] == [(52, "unknown_customer")]
    assert shop.table("orders").count().execute() == 0
    assert _batch_tables(shop) == []


def test_a_quarantined_first_load_merges_only_the_good_rows(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    text = _orders(20) + "o99,c1,2024-01-02 10:00:00,abc,completed\n"
    settings = Settings(ingest={"on_error": "quarantine"})
    report = ingest("orders", write(tmp_path / "o.csv", text), con=shop, settings=settings)
    assert (report.rows_inserted, report.rows_rejected) == (20, 1)
    assert shop.table("orders").count().execute() == 20
    assert shop.table("rejects").to_pandas().row.tolist() == [22]
    assert _batch_tables(shop) == []


def test_a_batch_table_of_an_ended_process_is_dropped_by_the_next_load(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    stale = f"{PREFIX}{int(ended.stdout)}_0123456789"
    # A killed load whose process id this one has again (in a container every run is often
    # process 1): its table is stale too, only the loads under way here are kept.
    reused = f"{PREFIX}{os.getpid()}_abcdef0123"
    mine = batch_table("fedcba9876")  # a load of this process, under way on another thread
    for name in (stale, reused, mine):
        shop.con.execute(f'CREATE TABLE "{name}" AS SELECT 1 AS x')
    ingest("orders", write(tmp_path / "o.csv", _orders(5)), con=shop)
    assert _batch_tables(shop) == [mine]


KILLED = """
import sys, time
import retain.warehouse as wh
from retain.config import Settings
from retain.ingest import ingest
url, path, marker = sys.argv[1:4]
con = wh.connect(url)

def stall(event):
    if event.phase == "write:updated":     # inside the swap: target dropped, batch renamed
        open(marker, "w").close()
        time.sleep(120)

ingest("orders", path, con=con, settings=Settings(), on_progress=stall)
"""


def test_a_load_killed_inside_the_swap_leaves_the_empty_table(tmp_path: Path, write: Any) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    con = wh.connect(url)
    wh.create_tables(con)
    ingest("customers", write(tmp_path / "c.csv", "customer_id\nc1\nc2\n"), con=con)
    ddl = _ddl(con)
    con.disconnect()
    path = write(tmp_path / "o.csv", _orders(20_000))
    marker = tmp_path / "inside-swap"
    kill_when_marked(KILLED, [url, str(path), str(marker)], marker, "swap")
    con = wh.connect(url)
    try:
        assert con.table("orders").count().execute() == 0
        assert _ddl(con) == ddl
        assert con.table("ingest_batches").filter(lambda t: t.table_name == "orders").count(
        ).execute() == 0  # fmt: skip
        assert len(_batch_tables(con)) == 1  # committed before the swap, left by the kill
        report = ingest("orders", write(tmp_path / "o2.csv", _orders(10)), con=con)
        assert report.rows_inserted == 10
        assert _batch_tables(con) == []  # the next load dropped it
    finally:
        con.disconnect()


def test_the_renamed_batch_holds_what_the_keyed_merge_would_write(
    tmp_path: Path, write: Any
) -> None:
    """The same file through the swap and through the staged merge gives the same rows.

    A reshaping query (here an identity) stages the source, which takes the keyed merge; the
    file has no status or currency column, so defaults and absent columns are compared too.
    """
    text = "order_id,customer_id,ordered_at,amount\n" + "".join(
        f"o{i},c{i % 2 + 1},2024-01-0{i % 9 + 1}T10:00:00+09:00,{i}.125\n" for i in range(40)
    )
    path = write(tmp_path / "o.csv", text)
    tables = []
    for name, mapping in [("swap", None), ("merge", {"query": "SELECT * FROM source"})]:
        con = wh.connect(f"duckdb:///{tmp_path / (name + '.duckdb')}")
        wh.create_tables(con)
        ingest("customers", write(tmp_path / "c.csv", "customer_id\nc1\nc2\n"), con=con)
        ingest("orders", path, con=con, mapping=mapping)
        tables.append((_ddl(con), con.table("orders").order_by("order_id").to_pandas()))
        con.disconnect()
    (ddl_swap, swap), (ddl_merge, merge) = tables
    assert ddl_swap == ddl_merge
    assert swap.equals(merge)
    assert set(swap.status) == {"completed"} and swap.ordered_at.iloc[0].hour == 1


def test_a_target_with_constraints_keeps_them_through_a_first_load(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    """A table its owner created with a key, NOT NULL, a default and an index is merged into.

    Renamed in place, the batch table (made by CREATE TABLE AS) would have dropped them all.
    """
    shop.con.execute("DROP TABLE orders")
    shop.con.execute(
        "CREATE TABLE orders (order_id VARCHAR PRIMARY KEY, customer_id VARCHAR NOT NULL, "
        "ordered_at TIMESTAMP, amount DECIMAL(18,4), currency VARCHAR DEFAULT 'JPY', "
        "status VARCHAR, channel VARCHAR, discount_amount DECIMAL(18,4))"
    )
    shop.con.execute("CREATE INDEX orders_by_customer ON orders (customer_id)")
    ddl = _ddl(shop)
    report = ingest("orders", write(tmp_path / "o.csv", _orders(30)), con=shop)
    assert report.rows_inserted == 30
    assert _ddl(shop) == ddl
    indexes = shop.con.execute(
        "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'orders'"
    ).fetchall()
    assert indexes == [("orders_by_customer",)]
    assert _batch_tables(shop) == []
    with pytest.raises(Exception, match=r"(?i)constraint"):
        shop.con.execute("INSERT INTO orders (order_id, customer_id) VALUES ('o1', 'c1')")
