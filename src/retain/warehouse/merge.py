"""Merging rows into a warehouse table by key: :func:`upsert` and :func:`replace_scope`.

On DuckDB and PostgreSQL a merge (update, insert, appended tables, the batch row) is one SQL
transaction, so a crash at any point leaves the warehouse as it was. Engines without
multi-table transactions (Spark) merge by rewriting the table, see
:mod:`retain.warehouse.merge_spark`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from retain.schema import get_table
from retain.warehouse.duckdb_file import ensure_writable
from retain.warehouse.tables import Frame, backend_name, create_tables, tmp_name

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["UpsertCounts", "replace_scope", "upsert"]


@dataclass(frozen=True)
class UpsertCounts:
    """What :func:`upsert` did: new keys, changed rows (last write wins), identical rows."""

    inserted: int
    updated: int
    unchanged: int
    deleted: int = 0
    """Stored rows removed because their scope was rewritten without them (``prune``)."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upsert(
    con: BaseBackend,
    name: str,
    staged: str | ir.Table,
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
    appends: Sequence[tuple[str, str | ir.Table]] = (),
    batch: dict[str, Any] | None = None,
    on_step: Callable[[str], None] | None = None,
    prune: Sequence[str] = (),
) -> UpsertCounts:
    """Merge the rows of ``staged`` into table ``name`` by ``key``, all or nothing.

    A staged row whose key is new is inserted; one whose key exists replaces the stored values
    of the ``update`` columns when any differ (last write wins) and is counted as updated;
    otherwise it is unchanged, so loading the same rows twice changes nothing. Columns of
    ``name`` that ``staged`` lacks keep their stored values (and their defaults on insert).

    Parameters
    ----------
    con
        The warehouse.
    name
        The table to merge into.
    staged
        On DuckDB and PostgreSQL the name of a (temporary) table in ``con`` holding the rows,
        with no duplicate keys; on other engines also an Ibis table.
    key
        The key columns.
    update
        The columns compared and overwritten on existing keys (default: every non-key column of
        ``staged``).
    appends
        ``(table, staged)`` pairs appended in the same transaction (rejects, created customers).
    batch
        A row for ``ingest_batches``, completed with the counts and written in the same
        transaction.
    on_step
        Called with ``"updated"`` and ``"inserted"`` inside the transaction (progress; tests use it
        to kill a load mid-transaction).
    prune
        Scope columns (a subset of ``key``): stored rows that share a staged row's values of
        these columns but whose key is not staged are deleted, in the same transaction. A
        scoring run that is written again then holds exactly its new rows.

    Returns
    -------
    UpsertCounts

    Notes
    -----
    On DuckDB and PostgreSQL everything (update, insert, appends, batch row) is one transaction:
    a crash at any point leaves the warehouse as it was. Other engines (Spark) have no multi-table
    transactions: the merged table is rewritten through :func:`write_table` (atomic per table),
    then the appends are written.
    """
    ensure_writable(con)
    kind = backend_name(con)
    if kind not in {"duckdb", "postgres"}:
        from retain.warehouse.merge_spark import upsert_rewrite  # it imports this module

        return upsert_rewrite(
            con, name, staged, key=key, update=update, appends=appends, batch=batch, prune=prune
        )
    assert isinstance(staged, str)

    def columns_of(table: str) -> list[str]:
        if kind == "duckdb":
            return [str(c) for c in con.con.table(table).columns]  # type: ignore[attr-defined]
        with con.con.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(f"SELECT * FROM {_q(table)} LIMIT 0")
            return [d.name for d in cur.description or ()]

    cols = columns_of(staged)
    update = [c for c in (update if update is not None else cols) if c not in key and c in cols]
    on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in key)
    differs = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in update) or "false"
    collist = ", ".join(_q(c) for c in cols)
    count_sql = (
        f"SELECT count(*) FILTER (WHERE t.{_q(key[0])} IS NULL), "
        f"count(*) FILTER (WHERE t.{_q(key[0])} IS NOT NULL AND ({differs})), "
        f"count(*) FILTER (WHERE t.{_q(key[0])} IS NOT NULL AND NOT ({differs})) "
        f"FROM {_q(staged)} AS s LEFT JOIN {_q(name)} AS t ON {on}"
    )
    set_list = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in update)
    update_sql = (
        f"UPDATE {_q(name)} AS t SET {set_list} FROM {_q(staged)} AS s WHERE {on} AND ({differs})"
        if update
        else None
    )
    insert_sql = (
        f"INSERT INTO {_q(name)} ({collist}) SELECT {collist} FROM {_q(staged)} AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {_q(name)} AS t WHERE {on})"
    )
    stale = (
        f"FROM {_q(name)} AS t WHERE EXISTS (SELECT 1 FROM {_q(staged)} AS s WHERE "
        + " AND ".join(f"t.{_q(c)} = s.{_q(c)}" for c in prune)
        + f") AND NOT EXISTS (SELECT 1 FROM {_q(staged)} AS s WHERE {on})"
    )

    def run(execute: Callable[..., Any], fetch: Callable[[str], tuple[Any, ...]]) -> UpsertCounts:
        empty = fetch(f"SELECT count(*) FROM {_q(name)}")[0] == 0
        if empty:
            total = fetch(f"SELECT count(*) FROM {_q(staged)}")[0]
            counts = UpsertCounts(int(total), 0, 0)
            execute(f"INSERT INTO {_q(name)} ({collist}) SELECT {collist} FROM {_q(staged)}")
        else:
            ins, upd, same = fetch(count_sql)
            gone = fetch(f"SELECT count(*) {stale}")[0] if prune else 0
            counts = UpsertCounts(int(ins), int(upd), int(same), int(gone))
            if counts.deleted:
                execute(f"DELETE {stale}")
            if update_sql and counts.updated:
                execute(update_sql)
            if on_step:
                on_step("updated")
            if counts.inserted:
                execute(insert_sql)
        if on_step:
            on_step("inserted")
        for target, source in appends:
            assert isinstance(source, str)
            names = ", ".join(_q(c) for c in columns_of(source))
            execute(f"INSERT INTO {_q(target)} ({names}) SELECT {names} FROM {_q(source)}")
        if batch is not None:
            row = {
                **batch,
                "rows_inserted": counts.inserted,
                "rows_updated": counts.updated,
                "rows_unchanged": counts.unchanged,
            }
            names = ", ".join(_q(c) for c in row)
            marks = ", ".join(["?" if kind == "duckdb" else "%s"] * len(row))
            execute(
                f"INSERT INTO {_q('ingest_batches')} ({names}) VALUES ({marks})", list(row.values())
            )
        return counts

    if kind == "duckdb":
        raw = con.con  # type: ignore[attr-defined]

        def fetch_duck(sql: str) -> tuple[Any, ...]:
            got = raw.execute(sql).fetchone()
            return tuple(got) if got else ()

        raw.execute("BEGIN TRANSACTION")
        try:
            counts = run(lambda sql, params=None: raw.execute(sql, params), fetch_duck)
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        return counts
    pg = con.con  # type: ignore[attr-defined]
    with pg.transaction(), pg.cursor() as cur:

        def fetch_pg(sql: str) -> tuple[Any, ...]:
            cur.execute(sql)
            got = cur.fetchone()
            return tuple(got) if got else ()

        return run(lambda sql, params=None: cur.execute(sql, params), fetch_pg)


def replace_scope(
    con: BaseBackend, name: str, rows: Frame, *, scope: Sequence[str]
) -> UpsertCounts:
    """Write ``rows`` to table ``name`` so each ``scope`` they carry holds exactly these rows.

    Columns of the table that ``rows`` lacks are written as nulls.

    The table (created from its schema when absent) is merged by its schema key with
    :func:`upsert`, and stored rows of the same scope that ``rows`` lacks are deleted, all in
    one transaction on DuckDB and PostgreSQL: re-running a scoring run replaces it, other runs
    are kept. ``rows`` is a frame or an Ibis expression with the table's columns.
    """
    ensure_writable(con)
    spec = get_table(name)
    create_tables(con, [name])
    schema = spec.ibis_schema()
    if not isinstance(rows, ir.Table):
        frame = rows.to_pandas() if isinstance(rows, pa.Table) else rows
        present = [c for c in schema.names if c in frame.columns]
        frame = frame[present]
        if backend_name(con) == "pyspark":
            from retain.warehouse.merge_spark import plain_strings  # it imports this module

            frame = plain_strings(frame)
        rows = ibis.memtable(frame, schema={c: schema[c] for c in present})
    typed = rows.select(
        *[
            (rows[c] if c in rows.columns else ibis.null()).cast(schema[c]).name(c)
            for c in schema.names
        ]
    )
    if backend_name(con) not in {"duckdb", "postgres"}:
        return upsert(con, name, typed, key=spec.key, prune=scope)
    staged = tmp_name(name)
    con.create_table(staged, typed.to_pyarrow(), temp=True)
    try:
        return upsert(con, name, staged, key=spec.key, prune=scope)
    finally:
        con.drop_table(staged, force=True)
