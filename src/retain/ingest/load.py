"""``ingest(table, source)``: read, map, validate, then merge all or nothing.

The load runs in four steps, each inside the engine:

1. **Stage** the source into a temporary DuckDB table of text columns (``readers``). On a DuckDB
   warehouse this is the warehouse's own connection; otherwise a private in-memory DuckDB
   (spilling to disk beyond ``ingest.memory_limit``). A single CSV file (the bulk case) is not
   copied: validation casts straight from the file in one parse, and the raw text is read again
   only for rows that break a rule (or for the ``rejects`` records in quarantine).
2. **Map** source columns to canonical ones (``mapping``).
3. **Validate** every rule as set-based SQL (``validate``). With ``on_error="reject"`` (the
   default) any violation raises :class:`~retain.errors.DataValidationError` and nothing is
   written; with ``"quarantine"`` bad rows go to ``rejects`` and the rest load.
4. **Merge** by key in one transaction (:func:`retain.warehouse.upsert`): new keys are inserted,
   changed rows updated (last write wins), identical rows left alone, and the batch is recorded in
   ``ingest_batches`` with its counts. Loading the same rows twice changes nothing. Events are
   immutable facts (:data:`IMMUTABLE_TABLES`): a stored event id that comes again with other
   values is a conflict (``event_conflict``), never an update.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from retain import warehouse as wh
from retain.config import Settings, get_settings
from retain.errors import (
    ConfigError,
    DataValidationError,
    InvalidParameterError,
    MissingColumnError,
    Violation,
)
from retain.i18n import t
from retain.ingest.mapping import Mapping, plan_columns, read_mapping
from retain.ingest.readers import Source, materialize, quote, stage_source
from retain.ingest.validate import validate_batch
from retain.schema import CANONICAL_TABLES, Table, get_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["IMMUTABLE_TABLES", "IngestProgress", "IngestReport", "ingest"]

OnError = Literal["reject", "quarantine"]

IMMUTABLE_TABLES = frozenset({"events"})
"""Tables of facts that never change once recorded: a stored key with other values is a conflict.

Events (a login, a page view) happened or did not; a second version of one is a bug upstream,
so it is rejected (``event_conflict``) and the stored row kept. Orders, subscriptions and
interactions stay correctable (a return or a cancellation changes an order's status, a ticket is
resolved): their rows are updated, last write wins, and counted as updated.
"""


@dataclass(frozen=True)
class IngestProgress:
    """A progress event: ``phase`` is ``read``, ``validate``, ``write`` or ``done``."""

    phase: str
    rows: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Rows per second so far."""
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class IngestReport:
    """What one load did.

    Attributes
    ----------
    table : str
        The canonical table loaded.
    batch_id : str
        Identifier of the load in ``ingest_batches`` (and ``rejects``).
    rows_read : int
        Rows read from the source (after a recipe's reshaping query, if any).
    rows_inserted, rows_updated, rows_unchanged : int
        New keys; existing keys whose values changed (last write wins); identical rows.
    rows_rejected : int
        Rows quarantined to ``rejects`` (only with ``on_error="quarantine"``).
    rows_collapsed : int
        Rows repeating another row of the batch exactly (same key, same values): loaded once.
    violations : list of Violation
        The broken rules found (the first 1,000; ``rejected_by_rule`` counts them all).
    rejected_by_rule : dict of str to int
        Violations per rule.
    customers_created : int
        Bare customers created for unknown references (``unknown_customers="create"``).
    source : str
        What was read.
    seconds : float
        Wall time of the load.
    """

    table: str
    batch_id: str
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    rows_collapsed: int = 0
    violations: list[Violation] = field(default_factory=list)
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    customers_created: int = 0
    source: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        """One translated line: what was loaded and what was rejected."""
        text = t(
            "ingest.summary",
            table=self.table,
            read=self.rows_read,
            inserted=self.rows_inserted,
            updated=self.rows_updated,
            unchanged=self.rows_unchanged,
            rejected=self.rows_rejected,
            seconds=self.seconds,
        )
        if self.rows_collapsed:
            text += " " + t("ingest.rows_collapsed", count=self.rows_collapsed)
        if self.customers_created:
            text += " " + t("ingest.customers_created", count=self.customers_created)
        return text

    def rejection_lines(self) -> list[str]:
        """One translated line per rule that rejected rows, most frequent first, with an example."""
        lines = []
        for rule, count in sorted(self.rejected_by_rule.items(), key=lambda kv: -kv[1]):
            example = next((v for v in self.violations if v.rule == rule), None)
            if example is None:
                lines.append(t("ingest.rejected_rule", rule=rule, count=count))
            else:
                where = example.location()
                text = f"{where}: {example.message}" if where else example.message
                lines.append(t("ingest.rejected_example", rule=rule, count=count, example=text))
        return lines


def _resolve_mapping(mapping: Mapping | str | Path | dict[str, Any] | None) -> Mapping:
    if mapping is None:
        return Mapping()
    if isinstance(mapping, Mapping):
        return mapping
    if isinstance(mapping, dict):
        return Mapping.from_dict(mapping)
    return read_mapping(mapping)


@contextmanager
def _staging_engine(con: BaseBackend, settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB to stage and validate in: the warehouse itself, or a private in-memory one."""
    limit = settings.ingest.memory_limit
    if wh.backend_name(con) == "duckdb":
        duck: duckdb.DuckDBPyConnection = con.con  # type: ignore[attr-defined]
        row = duck.execute("SELECT current_setting('memory_limit')").fetchone()
        previous = str(row[0]) if row else None
        if limit:
            duck.execute(f"SET memory_limit = '{limit}'")
        try:
            yield duck
        finally:
            if limit and previous:
                duck.execute(f"SET memory_limit = '{previous}'")
        return
    scratch = duckdb.connect()
    scratch.execute("SET TimeZone = 'UTC'")
    if limit:
        scratch.execute(f"SET memory_limit = '{limit}'")
    try:
        yield scratch
    finally:
        scratch.close()


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidParameterError(
            t("ingest.bad_choice", name=name, value=value, allowed=", ".join(allowed)),
            hint=t("ingest.bad_choice_hint", allowed=", ".join(allowed)),
        )


def ingest(
    table: str,
    source: Source,
    *,
    con: BaseBackend | None = None,
    settings: Settings | None = None,
    mapping: Mapping | str | Path | dict[str, Any] | None = None,
    on_error: OnError | None = None,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    date_format: str | None = None,
    unknown_customers: Literal["reject", "create"] | None = None,
    on_progress: Callable[[IngestProgress], None] | None = None,
    sheet: str | None = None,
) -> IngestReport:
    """Load ``source`` into the canonical ``table``: validated, idempotent, all or nothing.

    Parameters
    ----------
    table
        A canonical table: customers, orders, order_lines, events, subscriptions, interactions.
    source
        A path, a list of paths, a folder (CSV, Excel .xlsx, Parquet, JSON Lines, optionally
        gzipped) or a pandas / polars / pyarrow frame.
    con
        The warehouse (default: ``connect(settings=settings)``).
    settings
        Configuration (default: :func:`retain.config.get_settings`).
    mapping
        A :class:`Mapping`, a mapping TOML path, or its parsed dict.
    on_error
        ``"reject"``: any violation rejects the whole batch; ``"quarantine"``: good rows load and
        bad ones go to ``rejects``. Default: ``ingest.on_error``.
    encoding
        Text encoding of CSV files, e.g. ``shift_jis``, ``cp932``, ``euc-kr``. The mapping's
        ``encoding`` applies when this is left at ``"utf-8"``.
    delimiter
        CSV separator (detected when omitted); ``"whitespace"`` for runs of spaces/tabs.
    date_format
        strptime format for every timestamp column (per column: the mapping's ``date_formats``).
    unknown_customers
        A ``customer_id`` not in ``customers``: ``"reject"`` or ``"create"`` a bare customer.
        Default: ``ingest.unknown_customers``.
    on_progress
        Called with an :class:`IngestProgress` after each phase (and inside the merge).
    sheet
        The sheet of Excel workbooks to load, by name or number from 1 (default: the first).

    Returns
    -------
    IngestReport

    Raises
    ------
    DataValidationError
        The input broke a rule (and ``on_error`` is ``"reject"``, or the problem concerns the
        whole input: a missing column, an empty file). Nothing was written.
    """
    started = time.perf_counter()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    settings = settings or get_settings()
    spec: Table = get_table(table)
    if spec.name not in CANONICAL_TABLES:
        raise InvalidParameterError(
            t("ingest.not_canonical", table=table),
            hint=t("ingest.not_canonical_hint", tables=", ".join(CANONICAL_TABLES)),
        )
    policy: str = on_error or settings.ingest.on_error
    _check_choice("on_error", policy, ("reject", "quarantine"))
    unknown: str = unknown_customers or settings.ingest.unknown_customers
    _check_choice("unknown_customers", unknown, ("reject", "create"))
    plan_mapping = _resolve_mapping(mapping)
    if encoding.lower().replace("_", "-") in {"utf-8", "utf8"} and plan_mapping.encoding:
        encoding = plan_mapping.encoding
    delimiter = delimiter or plan_mapping.delimiter
    header = True if plan_mapping.header is None else plan_mapping.header
    own_con = con is None
    con = con or wh.connect(settings=settings)
    batch_id = f"{started_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    report = IngestReport(table=spec.name, batch_id=batch_id)

    def progress(phase: str, rows: int) -> None:
        if on_progress is not None:
            on_progress(IngestProgress(phase, rows, time.perf_counter() - started))

    try:
        wh.create_tables(con, [spec.name, "ingest_batches", "rejects", *spec.references.values()])
        with (
            _staging_engine(con, settings) as duck,
            stage_source(
                duck,
                source,
                encoding=encoding,
                delimiter=delimiter,
                header=header,
                columns=plan_mapping.source_columns,
                lazy=not plan_mapping.query,
                max_field_bytes=settings.ingest.max_field_bytes,
                sheet=sheet,
            ) as staged,
        ):
            report.source = staged.label
            if not staged.lazy:
                progress("read", staged.rows)
            _load(
                con,
                duck,
                spec,
                staged,
                plan_mapping,
                report,
                settings=settings,
                policy=policy,
                unknown=unknown,
                date_format=date_format,
                started_at=started_at,
                progress=progress,
            )
    finally:
        if own_con:
            con.disconnect()
    report.seconds = time.perf_counter() - started
    progress("done", report.rows_read)
    return report


def _load(
    con: BaseBackend,
    duck: duckdb.DuckDBPyConnection,
    spec: Table,
    staged: Any,
    mapping: Mapping,
    report: IngestReport,
    *,
    settings: Settings,
    policy: str,
    unknown: str,
    date_format: str | None,
    started_at: datetime,
    progress: Callable[[str, int], None],
) -> None:
    temps: list[str] = []
    first_file = staged.files[0] if staged.files else None
    try:
        lazy = False
        if mapping.query:
            reshaped = f"_retain_q_{uuid.uuid4().hex[:10]}"
            temps.append(reshaped)
            try:
                duck.execute(
                    f"CREATE TEMP TABLE {quote(reshaped)} AS WITH source AS (SELECT "
                    f"{staged.file_sql} AS _file, {staged.row_sql} AS _row, {staged.star} FROM "
                    f"{quote(staged.name)}) SELECT * FROM ({mapping.query})"
                )
            except duckdb.Error as exc:
                raise ConfigError(
                    t("ingest.query_failed", reason=str(exc).splitlines()[0]),
                    hint=t("ingest.query_failed_hint"),
                ) from None
            cols = list(duck.table(reshaped).columns)
            file_sql = "_file" if "_file" in cols else "CAST(NULL AS VARCHAR)"
            row_sql = "_row" if "_row" in cols else "CAST(NULL AS BIGINT)"
            source_cols = [c for c in cols if c not in {"_file", "_row"}]
            inputs = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in source_cols)
            base = (
                f"SELECT rowid AS _rid, {file_sql} AS _file, {row_sql} AS _row, {inputs} "
                f"FROM {quote(reshaped)}"
            )
            count = duck.execute(f"SELECT count(*) FROM {quote(reshaped)}").fetchone()
            report.rows_read = int(count[0]) if count else 0
        else:
            source_cols = list(staged.columns)
            lazy = staged.lazy
            base = (
                f"SELECT * FROM ({staged.sql})"
                if lazy
                else (
                    f"SELECT rowid AS _rid, {staged.file_sql} AS _file, {staged.row_sql} AS "
                    f"_row, {staged.star} FROM {quote(staged.name)}"
                )
            )
            report.rows_read = staged.rows
        plan = plan_columns(spec, source_cols, mapping)
        if not mapping.query:
            _check_file_columns(spec, staged, mapping)
        if plan.missing:
            raise MissingColumnError(
                [
                    Violation(
                        "missing_column",
                        t("ingest.rule.missing_column", column=c, table=spec.name),
                        file=first_file,
                        column=c,
                        hint=t(
                            "ingest.hint.missing_column",
                            column=c,
                            found=", ".join(source_cols[:12]),
                        ),
                    )
                    for c in plan.missing
                ]
            )
        if plan.unknown:
            raise DataValidationError(
                [
                    Violation(
                        "unknown_column",
                        t("ingest.rule.unknown_column", column=c, table=spec.name),
                        file=first_file,
                        column=c,
                        hint=t("ingest.hint.unknown_column", column=c),
                    )
                    for c in plan.unknown
                ]
            )
        # Bind every expression at once (binding a file reader costs a sniff); only when that
        # fails, one by one, to name the expression at fault.
        everything = ", ".join(plan.expressions.values()) or "1"
        try:
            duck.execute(f"SELECT {everything} FROM ({base}) LIMIT 0")
            checked: dict[str, str] = {}
        except duckdb.Error:
            checked = dict(plan.expressions)
        for name, expr in checked.items():
            try:
                duck.execute(f"SELECT {expr} FROM ({base}) LIMIT 0")
            except duckdb.Error as exc:
                raise ConfigError(
                    t(
                        "ingest.mapping_bad_expression",
                        column=name,
                        expression=mapping.columns.get(name, expr),
                        reason=str(exc).splitlines()[0],
                    ),
                    hint=t("ingest.mapping_bad_expression_hint"),
                ) from None
        formats = {c: list(mapping.date_formats.get(c, [])) for c in spec.column_names}
        default_format = date_format or mapping.date_format
        if default_format:
            for c in spec.columns:
                if c.kind in {"timestamp", "date"} and not formats[c.name]:
                    formats[c.name] = [default_format]
        references = _reference_relations(con, duck, spec, temps)
        stored = _stored_relation(con, duck, spec, temps) if spec.name in IMMUTABLE_TABLES else None
        enforce = [
            c
            for c, target in spec.references.items()
            if not (target == "customers" and unknown == "create")
        ]
        latest = datetime.now(UTC).replace(tzinfo=None) + timedelta(
            hours=settings.ingest.future_tolerance_hours
        )
        earliest = _earliest(settings.ingest.earliest_timestamp)

        def staged_base() -> str:
            """The staged text table with ``_rid``, ``_file``, ``_row`` (copied on first use)."""
            materialize(duck, staged)
            return (
                f"SELECT rowid AS _rid, {staged.file_sql} AS _file, {staged.row_sql} AS _row,"
                f" {staged.star} FROM {quote(staged.name)}"
            )

        def validate(relation: str, positional: bool) -> Any:
            return validate_batch(
                duck,
                relation,
                spec,
                plan,
                formats=formats,
                time_zone=settings.time_zone,
                max_amount=settings.ingest.max_amount,
                latest=latest,
                earliest=earliest,
                max_field_bytes=settings.ingest.max_field_bytes,
                references=references,
                check_references=enforce,
                positional=(staged.file_sql, staged.row_sql) if positional else None,
                raw_base=staged_base if positional else None,
                stored=stored,
            )

        if lazy:
            try:
                result = validate(base, True)
            except duckdb.Error:
                # The file (or a mapping expression) failed while being read: stage it the
                # usual way, which names the file and line of an unreadable record, and
                # validate the staged copy exactly as an eager load would.
                materialize(duck, staged)
                base = staged_base()
                result = validate(base, False)
            report.rows_read = result.rows
            progress("read", report.rows_read)
            if not staged.lazy:
                base = staged_base()
        else:
            result = validate(base, False)
        temps.extend(result.temp_tables)
        progress("validate", report.rows_read)
        scanned: list[Violation] = list(staged.violations)
        report.rows_read += len(scanned)
        report.violations = scanned + result.violations
        report.rejected_by_rule = dict(result.counts)
        for v in scanned:
            report.rejected_by_rule[v.rule] = report.rejected_by_rule.get(v.rule, 0) + 1
        if (result.total or scanned) and policy == "reject":
            raise DataValidationError(report.violations, total=len(scanned) + result.total)
        report.rows_rejected = result.rejected_rows + len(scanned)
        report.rows_collapsed = result.collapsed_rows
        scan_rejects = None
        if scanned:
            scan_rejects = _scan_rejects(duck, spec.name, report.batch_id, staged)
            temps.append(scan_rejects)
        packed = ", ".join(f"{quote(c)} := {quote(c)}" for c in source_cols)
        if result.table_of_violations and policy == "quarantine" and staged.lazy:
            base = staged_base()
        records = (
            f"SELECT _rid, CAST(to_json(struct_pack({packed})) AS VARCHAR) AS record FROM ({base})"
        )
        _merge(
            con,
            duck,
            spec,
            result,
            report,
            references=references,
            unknown=unknown,
            policy=policy,
            started_at=started_at,
            temps=temps,
            progress=progress,
            records=records,
            scan_rejects=scan_rejects,
        )
    finally:
        for name in reversed(temps):
            with suppress(duckdb.Error):
                duck.execute(f"DROP VIEW IF EXISTS {quote(name)}")
            with suppress(duckdb.Error):
                duck.execute(f"DROP TABLE IF EXISTS {quote(name)}")


def _check_file_columns(spec: Table, staged: Any, mapping: Mapping) -> None:
    """Files of one load may differ in optional columns, never in required ones."""
    if len(staged.file_columns) < 2:
        return
    problems = [
        Violation(
            "missing_column",
            t("ingest.rule.missing_column", column=c, table=spec.name),
            file=label,
            column=c,
            hint=t("ingest.hint.missing_column", column=c, found=", ".join(cols[:12])),
        )
        for label, cols in staged.file_columns.items()
        for c in plan_columns(spec, cols, mapping).missing
    ]
    if problems:
        raise MissingColumnError(problems)


def _scan_rejects(duck: duckdb.DuckDBPyConnection, table: str, batch_id: str, staged: Any) -> str:
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


def _earliest(value: str) -> str:
    """``ingest.earliest_timestamp`` as ``YYYY-MM-DD HH:MM:SS`` (a ConfigError when invalid)."""
    try:
        return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        raise ConfigError(
            t("ingest.bad_earliest", value=value), hint=t("ingest.bad_earliest_hint")
        ) from None


def _reference_relations(
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
        duck.register(view, keys)
        duck.execute(
            f"CREATE TEMP TABLE {quote(name)} AS SELECT {quote(target_key)} AS "
            f"{quote(column)} FROM {quote(view)}"
        )
        duck.unregister(view)
        temps.append(name)
        out[column] = quote(name)
    return out


def _stored_relation(
    con: BaseBackend, duck: duckdb.DuckDBPyConnection, spec: Table, temps: list[str]
) -> str:
    """SQL relation in ``duck`` of the rows already stored in ``spec``'s table.

    On a DuckDB warehouse it is the table itself (the join reads only the batch's keys). On
    another engine the stored rows whose keys the batch may carry are not known before
    validation, so the whole table is copied once into the staging engine: immutable tables are
    append-mostly and a conflict check must see every stored key.
    """
    if wh.backend_name(con) == "duckdb":
        return quote(spec.name)
    name = f"_retain_stored_{uuid.uuid4().hex[:10]}"
    view = f"{name}_arrow"
    duck.register(view, con.table(spec.name).to_pyarrow())
    try:
        duck.execute(f"CREATE TEMP TABLE {quote(name)} AS SELECT * FROM {quote(view)}")
    finally:
        duck.unregister(view)
    temps.append(name)
    return quote(name)


def _merge(
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
) -> None:
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
    if kind in ("duckdb", "postgres"):
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
                update=present,
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
            counts = wh.upsert(
                con,
                spec.name,
                staged_cast,
                key=spec.key,
                update=present,
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
    import pyarrow.csv as pacsv

    pg = con.con  # type: ignore[attr-defined]
    made: list[str] = []
    try:
        pairs = [(target, good), *appends]
        staged: list[str] = []
        for table_name, duck_name in pairs:
            cols = list(duck.table(duck_name).columns)
            name = f"_retain_pg_{uuid.uuid4().hex[:10]}"
            collist = ", ".join(quote(c) for c in cols)
            with pg.cursor() as cur:
                cur.execute(
                    f"CREATE TEMP TABLE {quote(name)} AS SELECT {collist} FROM "
                    f"{quote(table_name)} WITH NO DATA"
                )
                made.append(name)
                reader = duck.execute(f"SELECT {collist} FROM {quote(duck_name)}").to_arrow_reader(
                    100_000
                )
                with cur.copy(f"COPY {quote(name)} ({collist}) FROM STDIN (FORMAT csv)") as copy:
                    for chunk in reader:
                        buf = io.BytesIO()
                        pacsv.write_csv(
                            chunk, buf, write_options=pacsv.WriteOptions(include_header=False)
                        )
                        copy.write(buf.getvalue())
            staged.append(name)
        yield staged[0], [(t_, s_) for (t_, _), s_ in zip(appends, staged[1:], strict=True)]
    finally:
        with pg.cursor() as cur:
            for name in made:
                cur.execute(f"DROP TABLE IF EXISTS {quote(name)}")
