"""Guards against dependency combinations known to break (see pyproject.toml)."""

from __future__ import annotations

import ibis
import pandas as pd


def test_ibis_create_table_overwrite_works_with_installed_sqlglot() -> None:
    """ibis 12.0 with sqlglot 30.30 emits ``DROP VIEW IF EXISTS`` with no name here."""
    con = ibis.duckdb.connect()
    con.create_table("t", pd.DataFrame({"a": [1]}))
    con.create_table("t", pd.DataFrame({"a": [2, 3]}), overwrite=True)
    assert con.table("t").count().execute() == 2


def test_ibis_reads_arrow_from_the_installed_duckdb() -> None:
    """ibis 12.0 reads results through DuckDB methods that DuckDB 2.0 removed
    (``fetch_arrow_table``, ``fetch_record_batch``): with 2.0 every read fails at once."""
    con = ibis.duckdb.connect()
    table = con.create_table("t", pd.DataFrame({"a": [1, 2, 3]}))
    assert table.to_pyarrow().num_rows == 3
    assert sum(batch.num_rows for batch in table.to_pyarrow_batches(chunk_size=2)) == 3
