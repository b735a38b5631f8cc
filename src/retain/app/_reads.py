"""Fast per-customer reads for the service's hot paths (customer 360, single-customer scores).

An analytical engine answers "everything about customer X" with a scan per table, which costs
milliseconds per query however small the answer. So each table the hot paths read is kept as a
serving index: the table sorted by ``customer_id`` (then newest first) in Arrow, with each
customer's row range, built on first use and dropped when the service writes the table (API
ingest calls :meth:`Reads.forget`). Tables above ``MAX_INDEX_ROWS`` rows are not indexed and
use the per-query path below. On DuckDB the service is the warehouse's only writer while it runs
(it holds the file, see ``retain.app.deps.Warehouse``), so the index cannot go stale behind its
back and lives until a service write forgets it. PostgreSQL and Spark take writes from other
processes too (``retain churn score`` from the CLI while the service runs), so there an index is
also rebuilt once it is :data:`INDEX_TTL_S` old: a customer's scores are at most that stale.

Reads run in many threads at once: each query runs on the calling thread's connection (a DuckDB
cursor of its own), given by the ``connection`` function, and the caches are shared.

Each per-query read is an Ibis expression built once with a marker customer id. On DuckDB it is
compiled once to SQL with a bound parameter and executed on the backend's own connection, which
takes a few milliseconds instead of the tens that compiling and materialising an expression per
request costs; other engines run the Ibis expression per call. The set of warehouse tables is
cached for a moment so each request does not list them again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from retain import warehouse as wh
from retain.app._frames import json_value, records

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["CustomerIndex", "Reads"]

_SENTINEL = "__retain_customer_id_marker__"
TABLES_TTL = 2.0
MAX_INDEX_ROWS = 5_000_000
IBIS_PREFIX = "ibis_"
"""How the names of Ibis's own temporary tables (memtables, caches) begin."""
INDEX_TTL_S = 60.0
"""Age at which a serving index is rebuilt on engines other processes write (not DuckDB)."""


class CustomerIndex:
    """One table sorted by customer (newest first within a customer), with each one's rows."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._names = table.column_names
        self._converters = [_converter(f.type) for f in table.schema]
        ids = np.asarray(table.column("customer_id").to_numpy(zero_copy_only=False), dtype=object)
        self.ranges: dict[str, tuple[int, int]] = {}
        if len(ids):
            starts = np.concatenate(([0], np.flatnonzero(ids[1:] != ids[:-1]) + 1))
            ends = np.append(starts[1:], len(ids))
            self.ranges = {str(ids[s]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}

    def rows(self, customer_id: str, limit: int) -> list[dict[str, Any]]:
        """The customer's rows, newest first, at most ``limit``, as JSON-ready dicts."""
        found = self.ranges.get(customer_id)
        if found is None:
            return []
        start, end = found
        part = self.table.slice(start, min(end - start, limit))
        columns = [
            convert(column.to_pylist())
            for convert, column in zip(self._converters, part.columns, strict=True)
        ]
        names = self._names
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _as_is(values: list[Any]) -> list[Any]:
    return values


def _iso(values: list[Any]) -> list[Any]:
    return [None if v is None else v.isoformat() for v in values]


def _finite(values: list[Any]) -> list[Any]:
    return [None if v is None or math.isnan(v) or math.isinf(v) else v for v in values]


def _each(values: list[Any]) -> list[Any]:
    return [json_value(v) for v in values]


def _converter(kind: pa.DataType) -> Callable[[list[Any]], list[Any]]:
    """How a column of Arrow type ``kind`` becomes JSON-ready values.

    The values are those :func:`json_value` makes one by one; a whole column at a time costs a
    fraction of that.
    """
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind):
        return _as_is
    if pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return _as_is
    if pa.types.is_floating(kind):
        return _finite
    if pa.types.is_date(kind) or (pa.types.is_timestamp(kind) and kind.unit != "ns"):
        return _iso  # (nanoseconds come back as pandas Timestamps: one by one)
    return _each


class Reads:
    """Per-customer reads over the warehouse, from any thread.

    ``connection`` is the warehouse itself, or a function giving the calling thread's
    connection to it (the service gives each thread a cursor of its own).
    """

    def __init__(self, connection: BaseBackend | Callable[[], BaseBackend]) -> None:
        if callable(connection) and not hasattr(connection, "list_tables"):
            self._connection: Callable[[], BaseBackend] = connection
        else:
            fixed: Any = connection
            self._connection = lambda: fixed
        con = self.con
        self._sql: dict[str, str | None] = {}
        self._tables: tuple[float, frozenset[str]] | None = None
        self._lock = threading.Lock()
        self._duckdb = wh.backend_name(con) == "duckdb"
        self._indexes: dict[tuple[str, tuple[str, ...]], tuple[float, CustomerIndex | None]] = {}
        self._building = threading.Lock()

    @property
    def con(self) -> BaseBackend:
        """The calling thread's connection to the warehouse."""
        return self._connection()

    def index(self, table: str, newest_first: tuple[str, ...]) -> CustomerIndex | None:
        """The serving index of ``table`` ordered by ``newest_first`` (None when too large).

        Kept until :meth:`forget`; off DuckDB also rebuilt once :data:`INDEX_TTL_S` old.
        """
        key = (table, newest_first)
        with self._lock:
            found = self._indexes.get(key)
            if found is not None and self._fresh(found[0]):
                return found[1]
        with self._building:  # one thread builds it, the others wait for it
            with self._lock:
                found = self._indexes.get(key)
                if found is not None and self._fresh(found[0]):
                    return found[1]
            built_at = time.monotonic()
            t = wh.read_table(self.con, table)
            built: CustomerIndex | None = None
            if int(t.count().to_pandas()) <= MAX_INDEX_ROWS:
                ordered = t.order_by([t.customer_id.asc(), *(t[c].desc() for c in newest_first)])
                built = CustomerIndex(ordered.to_pyarrow())
            with self._lock:
                self._indexes[key] = (built_at, built)
        return built

    def _fresh(self, built_at: float) -> bool:
        return self._duckdb or time.monotonic() - built_at < INDEX_TTL_S

    def lookup(
        self,
        table: str,
        newest_first: tuple[str, ...],
        customer_id: str,
        limit: int,
        build: Callable[[BaseBackend, str], ir.Table],
    ) -> list[dict[str, Any]]:
        """The customer's rows of ``table``, newest first: from the index, else by query."""
        index = self.index(table, newest_first)
        if index is not None:
            return index.rows(customer_id, limit)
        return self.customer_rows(f"{table}:{','.join(newest_first)}:{limit}", build, customer_id)

    def tables(self) -> frozenset[str]:
        """Names of the warehouse tables (cached for ``TABLES_TTL`` seconds).

        Without the in-memory tables Ibis registers on a connection (``ibis_...``): each
        thread's cursor lists the frames it has queried, so the set depended on which thread
        read it last, and the at-risk list, whose remembered pages are keyed by it, computed
        every page again each time it changed (every few seconds under load).
        """
        now = time.monotonic()
        with self._lock:
            if self._tables is None or now - self._tables[0] > TABLES_TTL:
                names = (n for n in self.con.list_tables() if not n.startswith(IBIS_PREFIX))
                self._tables = (now, frozenset(names))
            return self._tables[1]

    def has(self, name: str) -> bool:
        """Whether the warehouse has table ``name``."""
        return name in self.tables()

    def forget(self, table: str | None = None) -> None:
        """Forget what a write may have changed.

        Drops the cached table names, compiled SQL and the indexes of ``table`` (default: all).
        """
        with self._lock:
            self._tables = None
            self._sql.clear()
            for key in list(self._indexes):
                if table is None or key[0] == table:
                    del self._indexes[key]

    def customer_rows(
        self, key: str, build: Callable[[BaseBackend, str], ir.Table], customer_id: str
    ) -> list[dict[str, Any]]:
        """Rows of ``build(con, customer_id)`` as JSON-ready dicts.

        On DuckDB the SQL is compiled once per ``key``.
        """
        con = self.con
        if not self._duckdb:
            return records(build(con, customer_id).to_pandas())
        sql = self._sql.get(key)
        if sql is None:
            compiled = str(con.compile(build(con, _SENTINEL)))
            literal = f"'{_SENTINEL}'"
            if compiled.count(literal) != 1:
                return records(build(con, customer_id).to_pandas())
            sql = compiled.replace(literal, "$1")
            self._sql[key] = sql
        raw: Any = con.con  # type: ignore[attr-defined]
        try:
            cursor = raw.execute(sql, [customer_id])
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except Exception:
            # The table changed shape or vanished since compiling: recompile next time.
            self._sql.pop(key, None)
            return records(build(con, customer_id).to_pandas())
        return [{c: json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
