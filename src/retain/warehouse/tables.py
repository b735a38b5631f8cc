"""Warehouse tables: whether one exists, reading it as an Ibis expression, creating and writing.

Writes are atomic: :func:`write_table` builds the new table under a temporary name and swaps it
in, so a crash in the middle leaves the previous table intact.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, TypeAlias

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from retain.errors import NotFoundError
from retain.schema import TABLES, Table, get_table
from retain.warehouse.duckdb_file import ensure_writable

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "Frame",
    "backend_name",
    "create_tables",
    "drop_table",
    "read_table",
    "table_exists",
    "tmp_name",
    "write_table",
]

Frame: TypeAlias = ir.Table | pd.DataFrame | pa.Table


def backend_name(con: BaseBackend) -> str:
    """``duckdb``, ``postgres`` or ``pyspark``."""
    return str(con.name)


def table_exists(con: BaseBackend, name: str) -> bool:
    """Whether ``name`` exists in the warehouse."""
    return name in con.list_tables()


def read_table(con: BaseBackend, name: str) -> ir.Table:
    """The warehouse table ``name`` as an Ibis expression (nothing is executed)."""
    if not table_exists(con, name):
        written_by = {
            "clv_scores": "retain clv predict",
            "churn_scores": "retain churn score",
            "segment_memberships": "retain segments rfm",
        }
        if name in written_by:
            hint = f"run '{written_by[name]}' first"
        elif name in TABLES:
            hint = f"load it with 'retain ingest {name} FILE'"
        else:
            hint = "run the step that writes it first (see 'retain --help')"
        raise NotFoundError(f"the warehouse has no table {name!r}", hint=hint)
    return con.table(name)


def create_tables(con: BaseBackend, names: Iterable[str] | None = None) -> list[str]:
    """Create the named tables (default: all) that do not exist yet; returns those made."""
    made: list[str] = []
    existing = set(con.list_tables())
    for name in names if names is not None else TABLES:
        table: Table = get_table(name)
        if name in existing:
            continue
        ensure_writable(con)
        con.create_table(name, schema=table.ibis_schema())
        made.append(name)
    return made


def tmp_name(name: str) -> str:
    """A fresh temporary table name for building ``name`` (the swap renames it)."""
    return f"_retain_tmp_{re.sub(r'[^0-9a-zA-Z_]', '_', name)}_{uuid.uuid4().hex[:12]}"


def drop_table(con: BaseBackend, name: str) -> None:
    """Drop ``name`` if it exists."""
    if table_exists(con, name):
        con.drop_table(name, force=True)


def write_table(
    con: BaseBackend,
    name: str,
    obj: Frame,
    *,
    mode: Literal["replace", "append"] = "replace",
) -> None:
    """Write ``obj`` (an Ibis expression or a frame) to table ``name``, all or nothing.

    ``replace`` builds the new table under a temporary name, then swaps it in; ``append`` inserts
    into the existing table (creating it when absent) in one statement. On DuckDB and PostgreSQL
    the swap is one transaction; on Spark it is a rename right after a complete write.
    """
    ensure_writable(con)
    if mode == "append" and table_exists(con, name):
        con.insert(name, obj)
        return
    tmp = tmp_name(name)
    try:
        con.create_table(tmp, obj)
        _swap(con, tmp, name)
    except Exception:
        drop_table(con, tmp)
        raise


def _swap(con: BaseBackend, tmp: str, name: str) -> None:
    kind = backend_name(con)
    if kind == "duckdb":
        raw = con.con  # type: ignore[attr-defined]
        raw.execute("BEGIN TRANSACTION")
        try:
            raw.execute(f'DROP TABLE IF EXISTS "{name}"')
            raw.execute(f'ALTER TABLE "{tmp}" RENAME TO "{name}"')
            raw.execute("COMMIT")
        except Exception:
            raw.execute("ROLLBACK")
            raise
    elif kind == "postgres":
        with con.begin() as cur:  # type: ignore[attr-defined]
            cur.execute(f'DROP TABLE IF EXISTS "{name}"')
            cur.execute(f'ALTER TABLE "{tmp}" RENAME TO "{name}"')
    else:
        drop_table(con, name)
        con.rename_table(tmp, name)
