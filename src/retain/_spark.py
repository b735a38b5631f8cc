"""Spark sessions for the warehouse: a local one whose tables last, or a Spark Connect client.

``pyspark://local`` runs Spark inside this process (``local[2]``). Its tables are Parquet folders
under ``Settings.spark_warehouse_dir`` and are named in a Hive catalog kept beside them (an
embedded Derby metastore in ``metastore_db/`` of that folder), so the tables one command writes
are there for the next one. Embedded Derby admits one process at a time: a second process that
opens the same folder gets :class:`SparkWarehouseBusyError` (teams that run several commands at
once point retain at a Spark Connect server instead).

``sc://host:15002`` (any Spark Connect URL, with ``/;token=...;use_ssl=true`` parameters) makes
retain a thin client of a Spark cluster through PySpark 4's Spark Connect: the server's catalog
holds the tables and the folder setting does not apply.

Either way the session runs with the settings retain's queries rely on (:data:`SESSION_CONF`).
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

from retain.errors import ConflictError
from retain.i18n import t

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "DEFAULT_WAREHOUSE_DIR",
    "METASTORE",
    "SESSION_CONF",
    "SparkWarehouseBusyError",
    "connect_session",
    "is_spark_url",
    "local_spark_session",
    "spark_backend",
]

DEFAULT_WAREHOUSE_DIR = Path("spark-warehouse")
METASTORE = "metastore_db"
"""The Derby metastore's folder inside the warehouse folder."""
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
}
"""Session settings every query of retain assumes, set on local and remote sessions alike:
timestamps without a zone are UTC (metrics convert to the reporting zone themselves), and casts
that fail give null as on DuckDB and PostgreSQL rather than an error (Spark 4's ANSI default)."""

_lock = threading.Lock()
_remote: dict[str, Any] = {}


class SparkWarehouseBusyError(ConflictError):
    """Another process has the local Spark warehouse's catalog open (embedded Derby)."""

    default_code = "warehouse.busy"
    retry_after = 1


def is_spark_url(url: str) -> bool:
    """Whether ``url`` names a Spark warehouse: ``pyspark://local`` or a ``sc://`` server."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return scheme in {"pyspark", "sc"}


def local_spark_session(
    app_name: str = "retain", *, warehouse_dir: str | Path | None = None
) -> Any:
    """A local Spark session for retain: 2 cores, UTC, UI off, small shuffles, a lasting catalog.

    ``warehouse_dir`` (default ``spark-warehouse`` in the working folder) holds the tables and
    their Derby metastore. A process that already runs a Spark session gets that one back, with
    its own catalog (Spark reads the folder settings once, when it starts).
    """
    from pyspark.sql import SparkSession

    root = Path(warehouse_dir if warehouse_dir is not None else DEFAULT_WAREHOUSE_DIR).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with _lock:
        builder = (
            SparkSession.builder.master("local[2]")
            .appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.memory", "4g")
            .config("spark.sql.warehouse.dir", str(root))
            .config("spark.sql.catalogImplementation", "hive")
            .config(
                "spark.hadoop.javax.jdo.option.ConnectionURL",
                f"jdbc:derby:;databaseName={root / METASTORE};create=true",
            )
            # derby.log goes into the folder, not the working folder.
            .config("spark.driver.extraJavaOptions", f'-Dderby.system.home="{root}"')
        )
        for key, value in SESSION_CONF.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
    return session


def connect_session(url: str) -> Any:
    """A Spark Connect session to the server at ``url`` (``sc://host:port``), one per URL.

    PySpark's Spark Connect client is used directly, not ``SparkSession.builder.remote``: that
    refuses to start in a process that already runs a local Spark session (and would switch the
    whole process to Spark Connect).
    """
    from pyspark.sql.connect.session import SparkSession as RemoteSparkSession

    # Ibis passes createDataFrame a verifySchema argument that Spark Connect ignores, and
    # PySpark warns on every upload of a frame: nothing a user can act on.
    warnings.filterwarnings("ignore", "'verifySchema' is ignored", UserWarning)
    with _lock:
        session = _remote.get(url)
        if session is None or session.is_stopped:
            session = RemoteSparkSession.builder.remote(url).create()
            for key, value in SESSION_CONF.items():
                session.conf.set(key, value)
            _remote[url] = session
    return session


def _metastore_held(root: Path) -> bool:
    """Whether another process holds the Derby metastore in ``root`` (its lock on ``dbex.lck``).

    Derby takes a POSIX record lock on that file while it has the database open; a Spark
    session of this process runs in a child JVM, so only ask before this process starts one.
    """
    lock = root / METASTORE / "dbex.lck"
    try:
        import fcntl
    except ImportError:  # not POSIX: Spark's own error tells, later
        return False
    try:
        with lock.open("r+b") as fh:
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(fh, fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


def _busy(root: Path) -> SparkWarehouseBusyError:
    return SparkWarehouseBusyError(
        t("spark.metastore_busy", path=str(root / METASTORE)),
        hint=t("spark.metastore_busy_hint"),
    )


def spark_backend(url: str, *, warehouse_dir: str | Path | None = None) -> BaseBackend:
    """The Ibis backend for a Spark warehouse URL (see :func:`is_spark_url`).

    A local metastore that another process holds is reported as
    :class:`SparkWarehouseBusyError` before Spark starts (and, should that process take it
    meanwhile, when the catalog is first opened, here) rather than as Hive's stack trace.
    """
    if url.lower().startswith("sc://"):
        return ibis.pyspark.connect(connect_session(url))
    from pyspark import SparkContext

    root = Path(warehouse_dir if warehouse_dir is not None else DEFAULT_WAREHOUSE_DIR)
    fresh = SparkContext._active_spark_context is None
    if fresh and _metastore_held(root):
        raise _busy(root)
    session = local_spark_session(warehouse_dir=root)
    if fresh:
        try:
            session.catalog.listTables()
        except Exception as exc:
            if _metastore_held(root):  # the catalog failed to open because another has it
                raise _busy(root) from exc
            raise
    return ibis.pyspark.connect(session)
