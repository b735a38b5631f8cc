"""The last step of a load: merge the validated rows, the rejects and the batch record.

:func:`merge_batch` writes everything a load produces in one transaction on DuckDB and PostgreSQL
(:func:`retain.warehouse.upsert`): the good rows (new keys inserted, changed ones updated, the
rest left alone), the customers created for unknown references, the quarantined rows and the
``ingest_batches`` record. The helpers here also give validation the relations it compares
against: the keys references may point at, and the stored rows of an immutable table.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from retain import warehouse as wh
from retain.ingest.csvread import release_result
from retain.ingest.readers import quote
from retain.ingest.swap import swap_into_empty
from retain.schema import Table, get_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.ingest.load import IngestReport

__all__ = ["merge_batch", "reference_relations", "scan_rejects", "stored_relation"]


def scan_rejects(duck: duckdb.DuckDBPyConnection, table: str, batch_id: str, staged: Any) -> str:
    """A temporary table of the malformed records found by the CSV rescan, shaped as rejects."""
    name = f"_retain_scanrej_{uuid.uuid4().hex[:10]}"
    duck.execute(
        f"CREATE TEMP TABLE {quote(name)} (batch_id VARCHAR, table_name VARCHAR, file VARCHAR, "
        '"row" BIGINT, "column" VARCHAR, rule VARCHAR, value VARCHAR, message VARCHAR, '
        "hint VARCHAR, record VARCHAR)"
    )
    rows = [
        (
            batch_id,
            table,
            v.file,
            v.row,
            v.column,
            v.rule,
            None if v.value is None else str(v.value),
            v.message,
            v.hint,
            json.dumps({"raw": raw}, ensure_ascii=False),
        )
        for v, raw in zip(staged.violations, staged.raw, strict=True)
    ]
    duck.executemany(f"INSERT INTO {quote(name)} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return name


def reference_relations(
    con: BaseBackend, duck: duckdb.DuckDBPyConnection, spec: Table, temps: list[str]
) -> dict[str, str]:
    """SQL relations in ``duck`` holding the keys each reference column may point at."""
    out: dict[str, str] = {}
    same = wh.backend_name(con) == "duckdb"
    for column, target in spec.references.items():
        target_key = get_table(target).key[0]
        if same:
            out[column] = f"(SELECT {quote(target_key)} AS {quote(column)} FROM {quote(target)})"
            continue
        keys = con.table(target).select(target_key).distinct().to_pyarrow()
        name = f"_retain_ref_{uuid.uuid4().hex[:10]}"
        view = f"{name}_arrow"
        release_result(duck)
        duck.register(view, keys)
        duck.execute(
            f"CREATE TEMP TABLE {quote(name)} AS SELECT {quote(target_key)} AS "
            f"{quote(column)} FROM {quote(view)}"
        )
        duck.unregister(view)
        temps.append(name)
        out[column] = quote(name)
    return out


def stored_relation(
    con: BaseBackend, duck: duckdb.DuckDBPyConnection, spec: Table, temps: list[str]
) -> Callable[[str], str]:
    """A function giving the SQL relation in ``duck`` of the stored rows the batch may repeat.

    It is called (by validation, once the batch is typed) with SQL in ``duck`` listing the
    batch's keys. On a DuckDB warehouse the relation is the table itself (the join reads only
    the batch's keys). On another engine only the stored rows with those keys are read into the
    staging engine (a semi-join in the warehouse): a load of ten events reads at most ten, not
    the whole events table. PostgreSQL gets the keys by ``COPY`` into a temporary table.
    """
    if wh.backend_name(con) == "duckdb":
        return lambda _keys: quote(spec.name)

    def stored(keys: str) -> str:
        key = list(spec.key)
        if wh.backend_name(con) == "postgres":
            with _postgres_copy(con, duck, spec.name, keys, key) as pg_keys:
                on = " AND ".join(f"t.{quote(k)} = k.{quote(k)}" for k in key)
                rows = con.sql(
                    f"SELECT t.* FROM {quote(spec.name)} AS t WHERE EXISTS (SELECT 1 FROM "
                    f"{quote(pg_keys)} AS k WHERE {on})"
                ).to_pyarrow()
        else:
            import ibis

            table = con.table(spec.name)
            mem = ibis.memtable(duck.execute(keys).to_arrow_table())
            wanted = mem.select(*[mem[k].cast(table.schema()[k]).name(k) for k in key])
            rows = table.semi_join(wanted, key).select(*table.columns).to_pyarrow()
        name = f"_retain_stored_{uuid.uuid4().hex[:10]}"
        view = f"{name}_arrow"
        release_result(duck)
        duck.register(view, rows)
        try:
            duck.execute(f"CREATE TEMP TABLE {quote(name)} AS SELECT * FROM {quote(view)}")
        finally:
            duck.unregister(view)
        temps.append(name)
        return quote(name)

    return stored


def merge_batch(
    con: BaseBackend,
    duck: duckdb.DuckDBPyConnection,
    spec: Table,
    result: Any,
    report: IngestReport,
    *,
    references: dict[str, str],
    unknown: str,
    policy: str,
    started_at: datetime,
    temps: list[str],
    progress: Callable[[str, int], None],
    records: str,
    scan_rejects: str | None = None,
    immutable: bool = False,
) -> None:
    """Write the good rows of ``result``, the appends and the batch record; fill the counts.

    ``records`` is SQL giving each source row's ``_rid`` and its raw record as JSON (for the
    ``rejects`` rows); ``scan_rejects`` a table of malformed records found before staging.
    ``immutable`` (events): only new keys are inserted and a stored key is never written again;
    validation has rejected the rows that differ, so a stored key counts as unchanged, even when
    its JSON is spelled differently.
    """
    tag = uuid.uuid4().hex[:10]
    typed = quote(result.typed)
    present = list(result.present)
    absent_defaults = {
        c.name: c.default for c in spec.columns if c.name not in present and c.default is not None
    }
    select = [quote(c) for c in present] + [
        f"{_sql_value(v)} AS {quote(c)}" for c, v in absent_defaults.items()
    ]
    where = ""
    if result.bad_rows or result.table_of_violations:
        where = " WHERE NOT _bad"
    if result.table_of_violations:
        where += f" AND _rid NOT IN (SELECT _rid FROM {quote(result.table_of_violations)})"
    if result.collapsed_rows:
        where = (where + " AND" if where else " WHERE") + (
            f" _rid NOT IN (SELECT _rid FROM {quote(result.collapsed)})"
        )
    good = f"_retain_good_{tag}"
    temps.append(good)
    duck.execute(
        f"CREATE TEMP VIEW {quote(good)} AS SELECT {', '.join(select)} FROM {typed}{where}"
    )
    appends: list[tuple[str, str]] = []
    if "customer_id" in spec.references and unknown == "create" and "customer_id" in present:
        created = f"_retain_newcust_{tag}"
        temps.append(created)
        duck.execute(
            f"CREATE TEMP TABLE {quote(created)} AS SELECT DISTINCT s.customer_id, false AS "
            f"email_opt_in, false AS sms_opt_in FROM {quote(good)} AS s WHERE s.customer_id IS "
            f"NOT NULL AND NOT EXISTS (SELECT 1 FROM {references['customer_id']} AS ref WHERE "
            f"ref.customer_id = s.customer_id)"
        )
        row = duck.execute(f"SELECT count(*) FROM {quote(created)}").fetchone()
        report.customers_created = int(row[0]) if row else 0
        if report.customers_created:
            appends.append(("customers", created))
    if result.table_of_violations and policy == "quarantine":
        rejects = f"_retain_rejects_{tag}"
        temps.append(rejects)
        duck.execute(
            f"CREATE TEMP TABLE {quote(rejects)} AS SELECT {_sql_value(report.batch_id)} AS "
            f"batch_id, {_sql_value(spec.name)} AS table_name, v._file AS file, v._row AS "
            f'"row", v.col AS "column", v.rule, v.value, v.message, v.hint, '
            f"r.record FROM {quote(result.table_of_violations)} AS v LEFT JOIN ({records}) AS r "
            f"USING (_rid)"
        )
        appends.append(("rejects", rejects))
    if scan_rejects and policy == "quarantine":
        appends.append(("rejects", scan_rejects))
    batch = {
        "batch_id": report.batch_id,
        "table_name": spec.name,
        "source": report.source[:1000],
        "started_at": started_at,
        "finished_at": datetime.now(UTC).replace(tzinfo=None),
        "rows_read": report.rows_read,
        "rows_rejected": report.rows_rejected,
        "policy": policy,
    }

    def on_step(step: str) -> None:
        progress(f"write:{step}", report.rows_read)

    progress("write", report.rows_read)
    kind = wh.backend_name(con)
    swapped = None
    if kind == "duckdb" and result.kept and not where:
        # Every row of the batch table is good: into an empty target it is renamed, not copied.
        swapped = swap_into_empty(
            duck,
            spec.name,
            result.kept,
            appends=appends,
            batch=batch,
            on_step=on_step,
            views=[good, result.typed],
        )
    if swapped is not None:
        counts = swapped
    elif kind in ("duckdb", "postgres"):
        # PostgreSQL gets the staged rows copied in first; DuckDB merges them where they are.
        stage = (
            _postgres_stage(con, duck, spec.name, good, appends)
            if kind == "postgres"
            else nullcontext((good, appends))
        )
        with stage as (staged_good, staged_appends):
            counts = wh.upsert(
                con,
                spec.name,
                staged_good,
                key=spec.key,
                update=[] if immutable else present,
                appends=staged_appends,
                batch=batch,
                on_step=on_step,
            )
    else:
        frames = {name: duck.table(name).to_arrow_table() for _, name in [("", good), *appends]}
        schema = con.table(spec.name).schema()
        staged = con.create_table(f"_retain_stage_{tag}", _decimals_as_text(frames[good]))
        try:
            staged_cast = staged.select(
                *[staged[c].cast(schema[c]).name(c) for c in staged.columns]
            )
            extra = [(target, _ibis_frame(con, target, frames[name])) for target, name in appends]
            if immutable:
                # This engine's merge rewrites every staged row: a stored key is staged with its
                # stored values, so it is written back as it was (and counted unchanged).
                stored = con.table(spec.name)
                kept = stored.semi_join(staged_cast, list(spec.key)).select(*staged_cast.columns)
                staged_cast = staged_cast.anti_join(stored, list(spec.key)).union(kept)
            counts = wh.upsert(
                con,
                spec.name,
                staged_cast,
                key=spec.key,
                update=[] if immutable else present,
                appends=extra,
                batch=batch,
            )
        finally:
            wh.drop_table(con, f"_retain_stage_{tag}")
    report.rows_inserted = counts.inserted
    report.rows_updated = counts.updated
    report.rows_unchanged = counts.unchanged


def _decimals_as_text(arrow: Any) -> Any:
    """Decimal columns as text: some engines (Spark via pandas) cannot take null decimals."""
    import pyarrow as pa

    for i, f in enumerate(arrow.schema):
        if pa.types.is_decimal(f.type):
            arrow = arrow.set_column(i, f.name, arrow.column(i).cast(pa.string()))
    return arrow


def _ibis_frame(con: BaseBackend, target: str, arrow: Any) -> Any:
    import ibis

    schema = con.table(target).schema()
    mem = ibis.memtable(arrow)
    return mem.select(*[mem[c].cast(schema[c]).name(c) for c in mem.columns])


def _sql_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


@contextmanager
def _postgres_stage(
    con: BaseBackend,
    duck: duckdb.DuckDBPyConnection,
    target: str,
    good: str,
    appends: list[tuple[str, str]],
) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Copy the validated rows into PostgreSQL temporary tables (COPY, in record batches)."""
    with ExitStack() as stack:
        staged = [
            stack.enter_context(
                _postgres_copy(
                    con,
                    duck,
                    table_name,
                    f"SELECT * FROM {quote(duck_name)}",
                    list(duck.table(duck_name).columns),
                )
            )
            for table_name, duck_name in [(target, good), *appends]
        ]
        yield staged[0], [(t_, s_) for (t_, _), s_ in zip(appends, staged[1:], strict=True)]


@contextmanager
def _postgres_copy(
    con: BaseBackend, duck: duckdb.DuckDBPyConnection, like: str, query: str, cols: list[str]
) -> Iterator[str]:
    """A PostgreSQL temporary table (columns ``cols`` typed as in ``like``) of ``query``'s rows.

    The rows go by ``COPY`` in record batches; the table is dropped on exit.
    """
    import pyarrow.csv as pacsv

    pg = con.con  # type: ignore[attr-defined]
    name = f"_retain_pg_{uuid.uuid4().hex[:10]}"
    collist = ", ".join(quote(c) for c in cols)
    try:
        with pg.cursor() as cur:
            cur.execute(
                f"CREATE TEMP TABLE {quote(name)} AS SELECT {collist} FROM {quote(like)} "
                "WITH NO DATA"
            )
            reader = duck.execute(f"SELECT {collist} FROM ({query})").to_arrow_reader(100_000)
            with cur.copy(f"COPY {quote(name)} ({collist}) FROM STDIN (FORMAT csv)") as copy:
                for chunk in reader:
                    buf = io.BytesIO()
                    pacsv.write_csv(
                        chunk, buf, write_options=pacsv.WriteOptions(include_header=False)
                    )
                    copy.write(buf.getvalue())
        yield name
    finally:
        with pg.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {quote(name)}")
