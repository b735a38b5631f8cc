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
