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

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
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
from retain.ingest.merge import merge_batch, reference_relations, scan_rejects, stored_relation
from retain.ingest.readers import Source, materialize, quote, stage_source
from retain.ingest.swap import drop_stale_batches, target_layout
from retain.ingest.validate import validate_batch
from retain.schema import CANONICAL_TABLES, Table, get_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["IMMUTABLE_TABLES", "IngestProgress", "IngestReport", "ingest"]

OnError = Literal["reject", "quarantine"]

_PLAIN = re.compile(r"""nullif\("(?:[^"]|"")*", ''\)""")
"""A mapped column that is a source column as it stands (empty text read as NULL)."""

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
        The sheet of Excel workbooks to load, by name or number from 1 (default: the mapping's
        ``sheet``, else the first).

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
    sheet = sheet or plan_mapping.sheet
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
        # Source columns as they stand always bind: nothing to check.
        everything = ", ".join(plan.expressions.values()) or "1"
        checked: dict[str, str] = {}
        try:
            if not all(_PLAIN.fullmatch(e) for e in plan.expressions.values()):
                duck.execute(f"SELECT {everything} FROM ({base}) LIMIT 0")
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
        references = reference_relations(con, duck, spec, temps)
        stored = stored_relation(con, duck, spec, temps) if spec.name in IMMUTABLE_TABLES else None
        enforce = [
            c
            for c, target in spec.references.items()
            if not (target == "customers" and unknown == "create")
        ]
        latest = datetime.now(UTC).replace(tzinfo=None) + timedelta(
            hours=settings.ingest.future_tolerance_hours
        )
        earliest = _earliest(settings.ingest.earliest_timestamp)
        layout = None
        if lazy and wh.backend_name(con) == "duckdb" and not wh.is_read_only(con):
            # A first load is written once (see retain.ingest.swap).
            drop_stale_batches(duck)
            layout = target_layout(duck, spec.name)
        # Columns read verbatim from checked CSV text skip the checks that text already passed.
        verbatim = [c for c, e in plan.expressions.items() if _PLAIN.fullmatch(e)]
        nul_free = verbatim if staged.nul_free and not mapping.query else []
        longest = staged.longest_line
        fits: list[str] = []
        if longest is not None and longest <= settings.ingest.max_field_bytes:
            fits = [] if mapping.query else verbatim

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
                layout=layout if positional else None,
                nul_free=nul_free,
                fits=fits,
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
        scan_table = None
        if scanned:
            scan_table = scan_rejects(duck, spec.name, report.batch_id, staged)
            temps.append(scan_table)
        packed = ", ".join(f"{quote(c)} := {quote(c)}" for c in source_cols)
        if result.table_of_violations and policy == "quarantine" and staged.lazy:
            base = staged_base()
        records = (
            f"SELECT _rid, CAST(to_json(struct_pack({packed})) AS VARCHAR) AS record FROM ({base})"
        )
        merge_batch(
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
            scan_rejects=scan_table,
            immutable=spec.name in IMMUTABLE_TABLES,
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


def _earliest(value: str) -> str:
    """``ingest.earliest_timestamp`` as ``YYYY-MM-DD HH:MM:SS`` (a ConfigError when invalid)."""
    try:
        return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        raise ConfigError(
            t("ingest.bad_earliest", value=value), hint=t("ingest.bad_earliest_hint")
        ) from None
