"""The warehouse: where the facts live, read and written through Ibis.

``connect(url)`` returns an Ibis backend for ``duckdb:///path.duckdb`` (the default, embedded),
``postgres://user:pass@host:port/db`` or ``pyspark://local`` (a local Spark session; pass
``spark_session=`` to use your own). Every read and write of facts goes through this module, so
it is the only place that executes queries against the warehouse; everything else builds Ibis
expressions.

Writes are atomic: :func:`write_table` builds the new table under a temporary name and swaps it
in, so a crash in the middle leaves the previous table intact.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias
from urllib.parse import urlparse

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from retain.errors import NotFoundError, UnsupportedBackendError
from retain.schema import TABLES, Table, get_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = [
    "backend_name",
    "connect",
    "create_tables",
    "drop_table",
    "local_spark_session",
    "read_table",
    "table_exists",
    "write_table",
]

Frame: TypeAlias = ir.Table | pd.DataFrame | pa.Table
_spark_lock = threading.Lock()


def local_spark_session(app_name: str = "retain") -> Any:
    """A local Spark session set up for retain: 2 cores, UTC, UI off, small shuffles."""
    from pyspark.sql import SparkSession

    with _spark_lock:
        return (
            SparkSession.builder.master("local[2]")
            .appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.memory", "4g")
            .config("spark.sql.ansi.enabled", "false")
            .getOrCreate()
        )


def connect(
    url: str | None = None, *, settings: Settings | None = None, spark_session: Any = None
) -> BaseBackend:
    """Open the warehouse named by ``url`` (default: ``settings.warehouse_url``).

    Parameters
    ----------
    url
        ``duckdb:///retain.duckdb``, ``duckdb://`` (in memory), ``postgres://...``,
        ``postgresql://...`` or ``pyspark://local``.
    settings
        Where to read the default URL; :func:`retain.config.get_settings` when omitted.
    spark_session
        An existing Spark session; implies the PySpark backend.
    """
    if spark_session is not None:
        con = ibis.pyspark.connect(spark_session)
        return con
    if url is None:
        if settings is None:
            from retain.config import get_settings

            settings = get_settings()
        url = settings.warehouse_url
    scheme = urlparse(url).scheme.lower()
    if scheme == "duckdb":
        path = url.split("://", 1)[1].lstrip("/") if "://" in url else ""
        if url.startswith("duckdb:///"):
            path = url[len("duckdb:///") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return ibis.duckdb.connect(path)
        return ibis.duckdb.connect()
    if scheme in {"postgres", "postgresql"}:
        return ibis.connect(url.replace("postgresql://", "postgres://", 1))
    if scheme == "pyspark":
        return ibis.pyspark.connect(local_spark_session())
    raise UnsupportedBackendError(
        f"warehouse URL {url!r} names an engine retain does not support",
        hint="use duckdb:///retain.duckdb, postgres://user@host/db or pyspark://local",
    )


def backend_name(con: BaseBackend) -> str:
    """``duckdb``, ``postgres`` or ``pyspark``."""
    return str(con.name)


def table_exists(con: BaseBackend, name: str) -> bool:
    """Whether ``name`` exists in the warehouse."""
    return name in con.list_tables()


def read_table(con: BaseBackend, name: str) -> ir.Table:
    """The warehouse table ``name`` as an Ibis expression (nothing is executed)."""
    if not table_exists(con, name):
        hint = (
            f"load it with 'retain ingest {name} FILE'"
            if name in TABLES and name not in {"clv_scores", "churn_scores"}
            else "run the step that writes it first (see 'retain --help')"
        )
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
        con.create_table(name, schema=table.ibis_schema())
        made.append(name)
    return made


def _tmp_name(name: str) -> str:
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
    if mode == "append" and table_exists(con, name):
        con.insert(name, obj)
        return
    tmp = _tmp_name(name)
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
