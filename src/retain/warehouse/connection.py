"""Warehouse URLs: which engine a URL names and the Ibis backend :func:`connect` opens for it.

``duckdb:///path.duckdb`` (the default, embedded; a file is opened through
:mod:`retain.warehouse.duckdb_file`), ``duckdb://`` (in memory), ``postgres://user@host/db``,
``pyspark://local`` and ``sc://host:15002`` (Spark, opened by :mod:`retain._spark`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import ibis

from retain._spark import is_spark_url, spark_backend
from retain.errors import UnsupportedBackendError
from retain.warehouse.duckdb_file import open_duckdb

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["connect", "duckdb_path"]


def connect(
    url: str | None = None,
    *,
    settings: Settings | None = None,
    spark_session: Any = None,
    read_only: bool = False,
    write: bool = False,
) -> BaseBackend:
    """Open the warehouse named by ``url`` (default: ``settings.warehouse_url``).

    Parameters
    ----------
    url
        ``duckdb:///retain.duckdb``, ``duckdb://`` (in memory), ``postgres://...``,
        ``postgresql://...``, ``pyspark://local`` or ``sc://host:15002`` (Spark Connect).
    settings
        Where to read the default URL (and, for ``pyspark://local``, the folder of the Spark
        tables); :func:`retain.config.get_settings` when omitted.
    spark_session
        An existing Spark session; implies the PySpark backend.
    read_only
        Open a DuckDB file for reading only (others may read it at the same time). Without it,
        a file that a live process holds (see :mod:`retain.warehouse.holder`) or that another
        process has open is opened read-only too; writes through it raise
        :class:`~retain.warehouse.holder.WarehouseBusyError`.
    write
        The caller is about to write (the service's ingest): a DuckDB file is opened read-write,
        never read-only, waiting up to :data:`~retain.warehouse.duckdb_file.OPEN_WAIT_S` for the
        process that has it open (reading or writing) to close it, then
        :class:`~retain.warehouse.holder.WarehouseBusyError`.
    """
    if spark_session is not None:
        con = ibis.pyspark.connect(spark_session)
        return con
    if url is None or (settings is None and url.lower().startswith("pyspark://")):
        if settings is None:
            from retain.config import get_settings

            settings = get_settings()
        url = url or settings.warehouse_url
    scheme = urlparse(url).scheme.lower()
    if scheme == "duckdb":
        path = url.split("://", 1)[1].lstrip("/") if "://" in url else ""
        if url.startswith("duckdb:///"):
            path = url[len("duckdb:///") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return open_duckdb(path, read_only=read_only, write=write)
        return ibis.duckdb.connect()
    if scheme in {"postgres", "postgresql"}:
        return ibis.connect(url.replace("postgresql://", "postgres://", 1))
    if is_spark_url(url):
        return spark_backend(
            url, warehouse_dir=settings.spark_warehouse_dir if settings is not None else None
        )
    raise UnsupportedBackendError(
        f"warehouse URL {url!r} names an engine retain does not support",
        hint="use duckdb:///retain.duckdb, postgres://user@host/db, pyspark://local or "
        "sc://host:15002",
    )


def duckdb_path(url: str) -> str | None:
    """The file of a ``duckdb:///file`` URL; None for an in-memory database or another engine."""
    if urlparse(url).scheme.lower() != "duckdb":
        return None
    path = url[len("duckdb:///") :] if url.startswith("duckdb:///") else url.split("://", 1)[1]
    return path if path and path != ":memory:" else None
