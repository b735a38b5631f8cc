"""A clean batch into an empty DuckDB table: renamed into place, not copied.

The first load of a table is the bulk case (millions of rows from one CSV file). Validation
then writes the typed batch once, as a committed table of the warehouse shaped exactly like
the target (:func:`target_layout`), and runs its checks on it. When no row broke a rule and the
target is still empty, :func:`swap_into_empty` drops the empty target and renames the batch
table in its place, in the one transaction that also appends the rejects, the created
customers and the batch record: the rows are written once instead of twice, and a failure at
any point leaves the warehouse as it was (the batch table is dropped with the load's other
temporary tables). A load killed before its end leaves its batch table behind; the next load
drops every batch table that no load of its own process has under way
(:func:`drop_stale_batches`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from retain.ingest.readers import quote
from retain.warehouse import UpsertCounts

__all__ = ["PREFIX", "batch_table", "drop_stale_batches", "swap_into_empty", "target_layout"]

PREFIX = "_retain_load_"
"""Name prefix of a batch table in the warehouse: ``_retain_load_<pid>_<tag>``."""

_IN_FLIGHT: set[str] = set()
"""The batch tables this process has made (a finished load's no longer exists)."""


def batch_table(tag: str) -> str:
    """The name of a new batch table, remembered as this process's own."""
    name = f"{PREFIX}{os.getpid()}_{tag}"
    _IN_FLIGHT.add(name)
    return name


def target_layout(duck: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]] | None:
    """The columns and SQL types of ``table`` in order, when it exists and holds no row.

    ``None`` also when the table carries more than its columns and types (a constraint, an
    index, a default, a comment: a warehouse whose tables its owner created with a primary
    key): the batch table, made by ``CREATE TABLE ... AS``, has none of them, so renamed in
    place it would silently drop them; such a target gets the keyed merge instead.
    """
    where = (
        "table_name = ? AND schema_name = current_schema() AND database_name = current_database()"
    )
    columns = duck.execute(
        "SELECT column_name, data_type, column_default IS NULL AND is_nullable AND "
        f"comment IS NULL FROM duckdb_columns() WHERE {where} ORDER BY column_index",
        [table],
    ).fetchall()
    if not columns or not all(bare for *_, bare in columns):
        return None
    extra = duck.execute(
        f"SELECT (SELECT count(*) FROM duckdb_constraints() WHERE {where}) + "
        f"(SELECT count(*) FROM duckdb_indexes() WHERE {where}) + "
        f"(SELECT count(*) FROM duckdb_tables() WHERE {where} AND (comment IS NOT NULL OR "
        "has_primary_key OR index_count > 0 OR check_constraint_count > 0))",
        [table, table, table],
    ).fetchone()
    if extra is None or extra[0]:
        return None
    row = duck.execute(f"SELECT count(*) FROM (SELECT 1 FROM {quote(table)} LIMIT 1)").fetchone()
    if row is None or row[0]:
        return None
    return [(str(name), str(sql_type)) for name, sql_type, _ in columns]


def drop_stale_batches(duck: duckdb.DuckDBPyConnection) -> list[str]:
    """Drop the batch tables of loads killed before their end; their names.

    Called with the warehouse open for writing, which DuckDB grants one process at a time: a
    batch table this process did not make belongs to no running load. Its process id is no
    test: in a container every run is often process 1, so a table left by an OOM-killed load
    (the whole typed file) would have been kept forever as a live process's.
    """
    names = duck.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND "
        "database_name = current_database() AND starts_with(table_name, ?)",
        [PREFIX],
    ).fetchall()
    dropped = []
    for (name,) in names:
        if re.fullmatch(re.escape(PREFIX) + r"\d+_[0-9a-f]+", str(name)) and name not in _IN_FLIGHT:
            duck.execute(f"DROP TABLE IF EXISTS {quote(str(name))}")
            dropped.append(str(name))
    return dropped


def swap_into_empty(
    duck: duckdb.DuckDBPyConnection,
    target: str,
    kept: str,
    *,
    appends: Sequence[tuple[str, str]],
    batch: dict[str, Any],
    on_step: Callable[[str], None],
    views: Sequence[str] = (),
) -> UpsertCounts | None:
    """Put the batch table ``kept`` in place of the empty ``target``, all or nothing.

    In one transaction: ``target`` is dropped (it must still be empty, else ``None`` is
    returned and nothing changes), ``kept`` loses its ``_bad`` column and takes the name, the
    ``appends`` are inserted and the ``batch`` row recorded with the counts. ``views`` (the
    load's views over ``kept``) are dropped with the target.
    """
    duck.execute("BEGIN TRANSACTION")
    try:
        row = duck.execute(f"SELECT count(*) FROM {quote(target)}").fetchone()
        if row is None or row[0]:
            duck.execute("ROLLBACK")
            return None
        for view in views:
            duck.execute(f"DROP VIEW IF EXISTS {quote(view)}")
        counted = duck.execute(f"SELECT count(*) FROM {quote(kept)}").fetchone()
        counts = UpsertCounts(int(counted[0]) if counted else 0, 0, 0)
        duck.execute(f"DROP TABLE {quote(target)}")
        duck.execute(f"ALTER TABLE {quote(kept)} DROP COLUMN _bad")
        duck.execute(f"ALTER TABLE {quote(kept)} RENAME TO {quote(target)}")
        on_step("updated")
        on_step("inserted")
        for table, source in appends:
            names = ", ".join(quote(str(c)) for c in duck.table(source).columns)
            duck.execute(
                f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {quote(source)}"
            )
        record = {
            **batch,
            "rows_inserted": counts.inserted,
            "rows_updated": 0,
            "rows_unchanged": 0,
        }
        duck.execute(
            f"INSERT INTO ingest_batches ({', '.join(quote(c) for c in record)}) VALUES "
            f"({', '.join('?' * len(record))})",
            list(record.values()),
        )
        duck.execute("COMMIT")
    except BaseException:
        duck.execute("ROLLBACK")
        raise
    return counts
