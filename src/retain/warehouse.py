"""The warehouse: where the facts live, read and written through Ibis.

``connect(url)`` returns an Ibis backend for ``duckdb:///path.duckdb`` (the default, embedded),
``postgres://user:pass@host:port/db``, ``pyspark://local`` (a local Spark session whose tables
last in ``Settings.spark_warehouse_dir``; pass ``spark_session=`` to use your own) or
``sc://host:15002`` (a Spark cluster through Spark Connect); :mod:`retain._spark` opens Spark.
Every read and write of facts goes through this module, so
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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import sys
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias
from urllib.parse import urlparse

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from retain._spark import is_spark_url, local_spark_session, spark_backend
from retain.errors import ConflictError, NotFoundError, UnsupportedBackendError
from retain.i18n import t
from retain.schema import TABLES, Table, get_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = [
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

Frame: TypeAlias = ir.Table | pd.DataFrame | pa.Table


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
        a file that a live process holds (see the module docstring) or that another process
        has open is opened read-only too; writes through it raise :class:`WarehouseBusyError`.
    write
        The caller is about to write (the service's ingest): a DuckDB file is opened read-write,
        never read-only, waiting up to :data:`OPEN_WAIT_S` for the process that has it open
        (reading or writing) to close it, then :class:`WarehouseBusyError`.
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
            return _open_duckdb(path, read_only=read_only, write=write)
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


HOLDER_SUFFIX = ".holder.json"
OPEN_WAIT_S = 3.0
"""How long opening a DuckDB file waits for a lock that another process holds a moment."""
_READ_ONLY: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_READER_LOCK: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""DuckDB's lock error for a connection opened read-only because another process reads the file."""


class WarehouseBusyError(ConflictError):
    """Another process holds the warehouse file, so this one may not write it (or open it)."""

    default_code = "warehouse.busy"
    retry_after = 1


def duckdb_path(url: str) -> str | None:
    """The file of a ``duckdb:///file`` URL; None for an in-memory database or another engine."""
    if urlparse(url).scheme.lower() != "duckdb":
        return None
    path = url[len("duckdb:///") :] if url.startswith("duckdb:///") else url.split("://", 1)[1]
    return path if path and path != ":memory:" else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _started(pid: int) -> str | None:
    """When process ``pid`` started, as the OS tells it; None where it cannot be read.

    Linux: field 22 of ``/proc/PID/stat`` (clock ticks since boot), else psutil's create time
    when it is installed. With the pid it tells a live holder from a process that got its pid
    after the holder crashed (PID 1 in every container).
    """
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        return stat[stat.rindex(")") + 2 :].split()[19]  # fields from 3 on, after "(comm)"
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    try:
        return str(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _is_live(found: dict[str, Any]) -> bool:
    """Whether the holder record ``found`` names a process running now.

    A record from another host cannot be checked here and counts as live (the hint names the
    file to delete); on this host the pid must run and, where recorded, have the same start time.
    """
    pid = int(found["pid"])
    if found.get("host", socket.gethostname()) != socket.gethostname():
        return True
    if pid == os.getpid() or not _alive(pid):
        return False
    recorded, now = found.get("started"), _started(pid)
    return recorded is None or now is None or str(recorded) == now


def holder_of(path: str) -> dict[str, Any] | None:
    """The live process holding the DuckDB file ``path`` (pid, command, since), if any."""
    try:
        found = json.loads(Path(path + HOLDER_SUFFIX).read_text(encoding="utf-8"))
        return found if _is_live(found) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def hold(path: str, command: str | None = None) -> None:
    """Record that this process holds ``path`` (a server does, for as long as it runs)."""
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    pid = os.getpid()
    row = {
        "pid": pid,
        "command": command or " ".join(sys.argv),
        "since": since,
        "started": _started(pid),
        "host": socket.gethostname(),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}{HOLDER_SUFFIX}.{pid}")
    tmp.write_text(json.dumps(row), encoding="utf-8")
    tmp.replace(path + HOLDER_SUFFIX)


def release(path: str) -> None:
    """Remove this process's holder record of ``path`` (another process's is left alone)."""
    file = Path(path + HOLDER_SUFFIX)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if int(json.loads(file.read_text(encoding="utf-8"))["pid"]) == os.getpid():
            file.unlink()


def busy_error(path: str, detail: str = "", *, reader: bool = False) -> WarehouseBusyError:
    """The error naming who holds ``path``: the holder record, else the pid DuckDB reports.

    ``reader``: the other process has the file open read-only (a command reading it), so the
    message says it reads rather than writes.
    """
    found = holder_of(path)
    if found is not None:
        return WarehouseBusyError(
            t(
                "cli.warehouse_held",
                path=path,
                pid=found["pid"],
                command=found.get("command", "?"),
                since=found.get("since", "?"),
            ),
            hint=t("cli.warehouse_held_file_hint", pid=found["pid"], holder=path + HOLDER_SUFFIX),
        )
    pid = re.search(r"\(PID (\d+)\)", detail)
    key = "cli.warehouse_read_busy" if reader else "cli.warehouse_busy"
    return WarehouseBusyError(
        t(key, path=path, pid=pid.group(1) if pid else "?"), hint=t(f"{key}_hint")
    )


def _is_lock(exc: Exception) -> bool:
    return "lock" in str(exc).lower()


def _open_duckdb(path: str, *, read_only: bool, write: bool = False) -> BaseBackend:
    """Open ``path``: read-write unless asked or held elsewhere; waits a moment on a lock.

    With ``write`` the read-write open is retried until :data:`OPEN_WAIT_S` passes, whoever has
    the file open (a reader's lock too); without it a file another process has open is opened
    read-only at once, so commands that only read never wait for each other.
    """
    import duckdb

    deadline = time.monotonic() + OPEN_WAIT_S
    while True:
        try:
            if read_only:
                return ibis.duckdb.connect(path, read_only=True)
            if write or holder_of(path) is None:
                try:
                    return ibis.duckdb.connect(path)
                except duckdb.IOException as exc:
                    if not _is_lock(exc):
                        raise
                    if write:
                        if time.monotonic() > deadline:
                            raise busy_error(path, str(exc), reader=_readable(path)) from exc
                        time.sleep(0.05)
                        continue
                    reader_lock = str(exc)
            else:
                reader_lock = ""
            con = ibis.duckdb.connect(path, read_only=True)
            _READ_ONLY[con] = path
            _READER_LOCK[con] = reader_lock
            return con
        except duckdb.IOException as exc:
            if not _is_lock(exc):
                raise
            if time.monotonic() > deadline:
                raise busy_error(path, str(exc)) from exc
            time.sleep(0.05)


def _readable(path: str) -> bool:
    """Whether ``path`` opens read-only now: the process locking it out of writing only reads."""
    import duckdb

    try:
        duckdb.connect(path, read_only=True).close()
    except duckdb.Error:
        return False
    return True


def is_read_only(con: BaseBackend) -> bool:
    """Whether :func:`connect` opened ``con`` read-only because another process holds the file."""
    return con in _READ_ONLY


def _writable(con: BaseBackend) -> None:
    """Refuse a write through a connection opened read-only because another process holds it."""
    path = _READ_ONLY.get(con)
    if path is not None:
        lock = _READER_LOCK.get(con, "")
        raise busy_error(path, lock, reader=bool(lock))


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
        _writable(con)
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
    _writable(con)
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
    _writable(con)
    kind = backend_name(con)
    if kind not in {"duckdb", "postgres"}:
        return _upsert_ibis(
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
    _writable(con)
    spec = get_table(name)
    create_tables(con, [name])
    schema = spec.ibis_schema()
    if not isinstance(rows, ir.Table):
        frame = rows.to_pandas() if isinstance(rows, pa.Table) else rows
        present = [c for c in schema.names if c in frame.columns]
        frame = frame[present]
        if backend_name(con) == "pyspark":
            frame = _plain_strings(frame)
        rows = ibis.memtable(frame, schema={c: schema[c] for c in present})
    typed = rows.select(
        *[
            (rows[c] if c in rows.columns else ibis.null()).cast(schema[c]).name(c)
            for c in schema.names
        ]
    )
    if backend_name(con) not in {"duckdb", "postgres"}:
        return upsert(con, name, typed, key=spec.key, prune=scope)
    staged = _tmp_name(name)
    con.create_table(staged, typed.to_pyarrow(), temp=True)
    try:
        return upsert(con, name, staged, key=spec.key, prune=scope)
    finally:
        con.drop_table(staged, force=True)


def _arrow_text(dtype: Any) -> bool:
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    return isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)


def _plain_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with Arrow-backed text columns (``string[pyarrow]``) as Python strings.

    Spark Connect uploads a pandas frame column by column through numpy, where an Arrow-backed
    column arrives as a chunked array that PySpark 4.0 cannot batch.
    """
    text = [c for c in frame.columns if _arrow_text(frame[c].dtype)]
    if not text:
        return frame
    return frame.assign(**{c: frame[c].astype(object).where(frame[c].notna(), None) for c in text})


def _upsert_ibis(
    con: BaseBackend,
    name: str,
    staged: str | ir.Table,
    *,
    key: Sequence[str],
    update: Sequence[str] | None,
    appends: Sequence[tuple[str, str | ir.Table]],
    batch: dict[str, Any] | None,
    prune: Sequence[str] = (),
) -> UpsertCounts:
    """The merge on engines without multi-table transactions: rewrite through Ibis."""
    new = con.table(staged) if isinstance(staged, str) else staged
    old = con.table(name)
    cols = list(new.columns)
    update = [c for c in (update if update is not None else cols) if c not in key and c in cols]
    old_cols = old.select(
        *key, _old_present=ibis.literal(True), **{f"_old_{c}": old[c] for c in update}
    )
    cmp = new.left_join(old_cols, list(key)).select(
        new, old_cols._old_present, *[old_cols[f"_old_{c}"] for c in update]
    )
    differs = ibis.literal(False)
    for c in update:
        differs = differs | ~cmp[c].cast(old.schema()[c]).identical_to(cmp[f"_old_{c}"])
    stats = cmp.aggregate(
        inserted=cmp._old_present.isnull().sum(),
        updated=(cmp._old_present.notnull() & differs).sum(),
        unchanged=(cmp._old_present.notnull() & ~differs).sum(),
    ).to_pandas()
    keep = old.anti_join(new, list(key)).select(*old.columns)
    deleted = 0
    if prune:
        scopes = new.select(*prune).distinct()
        stale = keep.semi_join(scopes, list(prune))
        deleted = int(stale.count().to_pyarrow().as_py())
        keep = keep.anti_join(scopes, list(prune)).select(*old.columns)
    inserted, updated, unchanged = (
        int(stats[c].fillna(0).iloc[0]) for c in ("inserted", "updated", "unchanged")
    )
    counts = UpsertCounts(inserted, updated, unchanged, deleted)
    olds = old.select(*key, **{f"_keep_{c}": old[c] for c in old.columns if c not in cols})
    carried = new.left_join(olds, list(key))
    fill = [
        (carried[c].cast(old.schema()[c]) if c in cols else carried[f"_keep_{c}"]).name(c)
        for c in old.columns
    ]
    write_table(con, name, keep.union(carried.select(*fill)))
    for target, source in appends:
        frame = con.table(source) if isinstance(source, str) else source
        write_table(con, target, frame.to_pyarrow(), mode="append")
    if batch is not None:
        row = {
            **batch,
            "rows_inserted": counts.inserted,
            "rows_updated": counts.updated,
            "rows_unchanged": counts.unchanged,
        }
        schema = con.table("ingest_batches").schema()
        mem = ibis.memtable(pd.DataFrame([row]))
        write_table(
            con,
            "ingest_batches",
            mem.select(*[mem[c].cast(schema[c]).name(c) for c in row]),
            mode="append",
        )
    return counts
