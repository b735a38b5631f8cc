"""The warehouse: where the facts live, read and written through Ibis.

``connect(url)`` returns an Ibis backend for ``duckdb:///path.duckdb`` (the default, embedded),
``postgres://user:pass@host:port/db``, ``pyspark://local`` (a local Spark session whose tables
last in ``Settings.spark_warehouse_dir``; pass ``spark_session=`` to use your own) or
``sc://host:15002`` (a Spark cluster through Spark Connect); :mod:`retain._spark` opens Spark.
Every read and write of facts goes through this package, so
it is the only place that executes queries against the warehouse; everything else builds Ibis
expressions.

Writes are atomic: :func:`write_table` builds the new table under a temporary name and swaps it
in, so a crash in the middle leaves the previous table intact.

An embedded DuckDB file admits one writing process or many reading ones. ``retain serve`` opens
it read-only (writing only for the moment of an API ingest) and leaves a holder file beside it
(``<file>.holder.json``: pid, command, since, the process's start time and host); while a live
process holds it (that pid runs with that start time, so a crashed server's record does not
count once another process gets its pid), :func:`connect`
opens the file read-only, so reads work, and a write raises :class:`WarehouseBusyError` naming
that process instead of DuckDB's lock error.

The modules, each one job (import the names from here, the package is the public door):

``connection``
    :func:`connect` and :func:`duckdb_path`: which engine a URL names, and opening it.
``duckdb_file``
    Opening a DuckDB file beside other processes (lock waits, the read-only fallback).
``holder``
    The holder record (:func:`hold`, :func:`release`, :func:`holder_of`) and
    :class:`WarehouseBusyError`.
``tables``
    :func:`read_table`, :func:`write_table`, :func:`create_tables` and the other table calls.
``merge``
    :func:`upsert` and :func:`replace_scope`: merging rows by key, all or nothing.
``merge_spark``
    The same merge on engines without multi-table transactions (Spark).
"""

from __future__ import annotations

from retain._spark import local_spark_session
from retain.warehouse.connection import connect, duckdb_path
from retain.warehouse.duckdb_file import is_read_only
from retain.warehouse.holder import (
    HOLDER_SUFFIX,
    WarehouseBusyError,
    busy_error,
    hold,
    holder_of,
    release,
)
from retain.warehouse.merge import UpsertCounts, replace_scope, upsert
from retain.warehouse.tables import (
    Frame,
    backend_name,
    create_tables,
    drop_table,
    read_table,
    table_exists,
    write_table,
)

__all__ = [
    "HOLDER_SUFFIX",
    "Frame",
    "UpsertCounts",
    "WarehouseBusyError",
    "backend_name",
    "busy_error",
    "connect",
    "create_tables",
    "drop_table",
    "duckdb_path",
    "hold",
    "holder_of",
    "is_read_only",
    "local_spark_session",
    "read_table",
    "release",
    "replace_scope",
    "table_exists",
    "upsert",
    "write_table",
]
