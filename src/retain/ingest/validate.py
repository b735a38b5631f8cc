"""Validation rules, run as set-based SQL inside DuckDB on the staged batch, before any write.

Each rule is a SQL condition over a row's raw text value ``r`` and its typed value ``v``. The
checks run in one pass: the batch is cast to the canonical types into a table with a ``_bad``
flag (straight from the file when the source is a lazily read CSV: one parse; a committed table
shaped like an empty target, so a clean first load is renamed into place, see
:mod:`retain.ingest.swap`); only the (usually few) flagged rows are examined rule by rule,
re-reading their raw text. Duplicate keys are first a sort of key hashes (the group-by naming
the rows runs only when it finds a repeat, :mod:`retain.ingest.batchchecks`) and unknown
references an anti-join count (the rows are listed only when it finds some). Nothing here
executes per row in Python.

Rules (the ``rule`` of each :class:`~retain.errors.Violation`):

============================  ==============================================================
``missing_column``            a required column is absent from the input
``unknown_column``            an input column has no place in a table without a JSON column
``empty_file``                a file (or frame) has no rows
``missing_value``             a required column is empty on a row
``invalid_date``              a timestamp or date does not parse
``invalid_number``            an integer or decimal does not parse
``invalid_boolean``           not one of true/false, yes/no, 1/0, t/f, y/n
``invalid_json``              a JSON column does not hold valid JSON
``invalid_value``             a value outside the column's vocabulary (e.g. order status)
``negative_amount``           an amount below zero (orders: only returns and cancellations)
``below_minimum``             a number below the column's minimum (line_no from 1)
``absurd_amount``             an amount above ``ingest.max_amount`` (also one too big to store)
``excess_precision``          an amount with more decimals than stored (4): never rounded away
``future_timestamp``          later than now plus ``ingest.future_tolerance_hours``
``early_timestamp``           before ``ingest.earliest_timestamp`` (year 0001, 1899...)
``field_too_large``           a value longer than ``ingest.max_field_bytes``
``nul_byte``                  a NUL character inside a text value
``invalid_country``           not an ISO 3166-1 alpha-2 code (any case)
``invalid_language``          not a BCP 47 tag (``ja``, ``ko``, ``en``, ``pt-BR``)
``invalid_time_zone``         not an IANA time zone name (``Asia/Tokyo``)
``duplicate_key``             the same key more than once in the batch with different values
                              (identical repeats collapse into one row instead)
``event_conflict``            an event id already stored with a different payload (events
                              are immutable facts: never overwritten)
``unknown_customer``          a customer_id not in ``customers`` (``--unknown-customers``)
``unknown_reference``         another reference (order_lines.order_id) that does not exist
============================  ==============================================================
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from retain.errors import Violation
from retain.i18n import t
from retain.ingest.batchchecks import conflict_sql, repeated_hashes, repeated_keys
from retain.ingest.mapping import ColumnPlan
from retain.ingest.readers import quote
from retain.ingest.rules import Check, lit, message_sql, raw_name, row_checks, typed_sql
from retain.ingest.swap import batch_table
from retain.schema import Table

__all__ = ["Check", "Validation", "typed_sql", "validate_batch"]

SHOWN = 1000
"""Violations kept in memory for errors and reports; every one goes to ``rejects``."""


@dataclass
class Validation:
    """The outcome of validating one staged batch."""

    typed: str
    """Temporary table of typed canonical columns plus ``_rid``, ``_file``, ``_row``, ``_bad``."""
    present: list[str]
    violations: list[Violation]
    counts: dict[str, int]
    total: int
    rejected_rows: int
    table_of_violations: str | None
    """Temporary table with every violation (``_rid`` links it to the source row)."""
    temp_tables: list[str] = field(default_factory=list)
    rows: int = 0
    """Rows in the batch."""
    bad_rows: int = 0
    """Rows that break a row rule (``_bad``); with none, the merge reads ``typed`` unfiltered."""
    collapsed: str | None = None
    """Temporary table of the ``_rid`` of identical repeats of a kept row (never merged)."""
    collapsed_rows: int = 0
    """Rows that repeat another row of the batch exactly (same key, same values)."""
    kept: str | None = None
    """The warehouse table behind ``typed`` when it was asked for in the target's ``layout``
    (every column of the target in order, plus ``_bad``): a clean batch into an empty target is
    renamed into place instead of copied (:func:`retain.ingest.merge.merge_batch`)."""


def validate_batch(
    duck: duckdb.DuckDBPyConnection,
    base: str,
    table: Table,
    plan: ColumnPlan,
    *,
    formats: dict[str, list[str]],
    time_zone: str,
    max_amount: float,
    latest: datetime,
    earliest: str | None = None,
    max_field_bytes: int | None = None,
    references: dict[str, str],
    check_references: Sequence[str],
    positional: tuple[str, str] | None = None,
    raw_base: Callable[[], str] | None = None,
    stored: Callable[[str], str] | None = None,
    layout: Sequence[tuple[str, str]] | None = None,
    nul_free: Collection[str] = (),
    fits: Collection[str] = (),
) -> Validation:
    """Cast a staged batch to the canonical types and find every broken rule.

    ``base`` is a SQL relation with ``_rid``, ``_file``, ``_row`` and the source columns.

    With ``positional=(file_sql, row_sql)``, ``base`` has only the source columns (a file read
    in order): a row's ``_rid`` is then the ``rowid`` of the typed table, and ``file_sql`` /
    ``row_sql`` (SQL over ``rowid``) give its file and line. ``raw_base()`` must then return a
    relation like ``base`` with ``_rid``, ``_file`` and ``_row`` (the same rows, in the same
    order); it is only called when some row is flagged, to show that row's raw text.

    ``references`` maps a referencing column to the SQL relation holding the referenced keys
    (one column of the same name); only columns in ``check_references`` are enforced.

    ``stored`` gives, for SQL listing the batch's keys, a SQL relation of the rows already in an
    immutable table (events) with those keys: a batch row whose key is stored with other values
    breaks ``event_conflict``; an identical one is a no-op for the merge. Within the batch, rows
    repeating a key with identical values collapse into the first (``Validation.collapsed``);
    differing ones all break ``duplicate_key``.

    ``layout`` (the target's columns and SQL types, in order), with ``positional``: the typed
    batch is written once, as a committed table of the warehouse (``Validation.kept``) holding
    every column of the target, so that a clean batch into an empty target needs no second
    write. Set checks over a committed table cost half those over a transaction's own rows.

    ``nul_free`` names columns whose raw text comes verbatim from a source already proven free
    of NUL characters (a checked CSV file): their ``nul_byte`` check cannot fire and is skipped;
    ``fits`` names those whose text is proven no longer than ``max_field_bytes`` (a plain CSV
    file whose longest line is not): their ``field_too_large`` check is skipped.
    """
    tag = uuid.uuid4().hex[:10]
    typed_name, bad_name, viol_name = (
        f"_retain_typed_{tag}",
        f"_retain_bad_{tag}",
        f"_retain_viol_{tag}",
    )
    temps = [typed_name]
    present = list(plan.expressions)
    json_col = next(
        (
            c.name
            for c in table.columns
            if c.kind == "json" and c.name in {"attributes", "properties"}
        ),
        None,
    )
    raw_exprs = dict(plan.expressions)
    if plan.extras and json_col:
        packed = ", ".join(f"{quote(c)} := {quote(c)}" for c in plan.extras)
        extras = f"CAST(to_json(struct_pack({packed})) AS VARCHAR)"
        if json_col in raw_exprs:
            raw_exprs[json_col] = (
                f"CAST(json_merge_patch(coalesce({raw_exprs[json_col]}, '{{}}'),"
                f" {extras}) AS VARCHAR)"
            )
        else:
            raw_exprs[json_col] = extras
            present.append(json_col)
    present = [c.name for c in table.columns if c.name in present]
    raw_select = ", ".join(f"{raw_exprs[c]} AS {raw_name(c)}" for c in present)
    typed_select = ", ".join(
        typed_sql(table.column(c), raw_name(c), formats=formats.get(c, []), time_zone=time_zone)
        + f" AS {quote(c)}"
        for c in present
    )
    if positional is None:
        inner = _inner_sql(base, raw_select, present, typed_select)
    else:
        inner = (
            f"SELECT {', '.join(raw_name(c) for c in present)}, {typed_select} "
            f"FROM (SELECT {raw_select} FROM ({base}))"
        )
    checks = row_checks(
        table,
        present,
        max_amount=max_amount,
        latest=latest,
        earliest=earliest,
        max_field_bytes=max_field_bytes,
        nul_free=nul_free,
        fits=fits,
    )
    # ``IS NULL`` is never NULL: no coalesce (each wrapper costs a pass over the batch).
    flag = (
        " OR ".join(
            c.condition
            if c.rule == "missing_value"
            else f"coalesce({c.flag or c.condition}, false)"
            for c in checks
        )
        or "false"
    )
    out_cols = []
    for c in present:
        col = table.column(c)
        if col.default is not None:
            out_cols.append(f"coalesce({quote(c)}, {lit(col.default)}) AS {quote(c)}")
        else:
            out_cols.append(quote(c))
    if positional is None:
        duck.execute(
            f"CREATE TEMP TABLE {quote(typed_name)} AS SELECT _rid, _file, _row, "
            f"{', '.join(out_cols)}, ({flag}) AS _bad FROM ({inner})"
        )
    else:
        # One pass over the file: the typed table keeps its order, so its rowid is the record
        # number; a view adds _rid, _file and _row for the checks and the merge.
        kept = f"{typed_name}_t"
        columns = ", ".join(out_cols)
        create = "CREATE TEMP TABLE"
        if layout is not None:
            # Remembered as this process's: a later load drops those of killed loads.
            kept, create = batch_table(tag), "CREATE TABLE"
            columns = ", ".join(_layout_sql(table, present, out_cols, layout))
        temps.insert(0, kept)
        duck.execute(f"{create} {quote(kept)} AS SELECT {columns}, ({flag}) AS _bad FROM ({inner})")
        file_sql, row_sql = positional
        duck.execute(
            f"CREATE TEMP VIEW {quote(typed_name)} AS SELECT rowid AS _rid, {file_sql} AS _file,"
            f" {row_sql} AS _row, * FROM {quote(kept)}"
        )
    parts: list[str] = []
    counted = duck.execute(
        f"SELECT count(*), count(*) FILTER (WHERE _bad) FROM {quote(typed_name)}"
    ).fetchone()
    n_rows, n_bad = (int(counted[0]), int(counted[1])) if counted else (0, 0)
    if n_bad:
        temps.append(bad_name)
        if positional is not None:
            assert raw_base is not None, "positional validation needs raw_base"
            inner = _inner_sql(raw_base(), raw_select, present, typed_select)
        duck.execute(
            f"CREATE TEMP TABLE {quote(bad_name)} AS SELECT * FROM ({inner}) WHERE _rid IN "
            f"(SELECT _rid FROM {quote(typed_name)} WHERE _bad)"
        )
        for chk in checks:
            value = f"CAST({raw_name(chk.column)} AS VARCHAR)"
            parts.append(
                f"SELECT _rid, _file, _row, {lit(chk.column)} AS col, {lit(chk.rule)} AS rule, "
                f"{value} AS value, {message_sql(chk.rule, chk.params, value)} AS message, "
                f"{lit(t('ingest.hint.' + chk.rule, **chk.params))} AS hint "
                f"FROM {quote(bad_name)} WHERE coalesce({chk.condition}, false)"
            )
    typed_q = quote(typed_name)
    key = [k for k in table.key if k in present]
    repeated: tuple[int, ...] | None = None
    if key and len(key) == len(table.key):
        key_cols = ", ".join(quote(k) for k in key)
        key_value = (
            f"CAST({quote(key[0])} AS VARCHAR)"
            if len(key) == 1
            else "concat_ws(' / ', " + ", ".join(f"CAST({quote(k)} AS VARCHAR)" for k in key) + ")"
        )
        not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in key)
    refs = [c for c in check_references if c in present and c in references]

    def unknown_refs(column: str, live: str) -> str:
        """FROM ... WHERE selecting the rows of ``live`` whose ``column`` points nowhere."""
        return (
            f"FROM (SELECT * FROM {live}) AS s WHERE s.{quote(column)} IS NOT NULL AND NOT EXISTS"
            f" (SELECT 1 FROM {references[column]} AS ref WHERE ref.{quote(column)} = "
            f"s.{quote(column)})"
        )

    # Key uniqueness first from 64-bit key hashes: sorted, no two equal neighbours proves the
    # keys distinct (a sort of the hashes costs half DuckDB's distinct count of them); a
    # repeated hash (a repeated key, or very rarely a collision) sends the batch to the exact
    # group-by below, which names the rows whose keys really repeat. Unknown references are
    # counted in one scan (the rows are only listed when there are some).
    if key and len(key) == len(table.key):
        repeated = (repeated_hashes(duck, typed_q, key_cols, not_null),)
    unknown_counts: dict[str, int] = {}
    if refs:
        aggregates = [
            f"count(*) FILTER (WHERE NOT s._bad AND s.{quote(c)} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {references[c]} AS ref WHERE ref.{quote(c)} = s.{quote(c)}))"
            for c in refs
        ]
        found = duck.execute(f"SELECT {', '.join(aggregates)} FROM {typed_q} AS s").fetchone()
        unknown_counts = {c: int(n) for c, n in zip(refs, found or (), strict=True)}
    collapsed: str | None = None
    n_collapsed = 0
    if key and len(key) == len(table.key) and repeated and repeated[0]:
        collapsed, n_collapsed, conflicting = repeated_keys(
            duck, typed_q, table, key, present, not_null, tag
        )
        temps.extend([collapsed + "_g", collapsed])
        if conflicting:
            parts.append(
                f"SELECT _rid, _file, _row, {lit(', '.join(key))} AS col, 'duplicate_key' AS "
                f"rule, {key_value} AS value, {message_sql('duplicate_key', {}, key_value)} AS "
                f"message, {lit(t('ingest.hint.duplicate_key'))} AS hint FROM {typed_q} "
                f"WHERE ({key_cols}) IN (SELECT ({key_cols}) FROM {quote(collapsed + '_g')} "
                "WHERE versions > 1)"
            )
    live = f"{typed_q} WHERE NOT _bad"
    if collapsed is not None:
        live += f" AND _rid NOT IN (SELECT _rid FROM {quote(collapsed)})"
    if stored is not None and key and len(key) == len(table.key):
        keys = f"SELECT DISTINCT {', '.join(quote(k) for k in key)} FROM {live}"
        conflict = conflict_sql(duck, live, stored(keys), table, key, present)
        if conflict is not None:
            parts.append(conflict)
    for column in refs:
        target = table.references[column]
        rule = "unknown_customer" if target == "customers" else "unknown_reference"
        value = f"CAST({quote(column)} AS VARCHAR)"
        params = {"table": target, "column": column}
        # The count included collapsed repeats, but each is a copy of a kept row of ``live``
        # with the same reference: it is non-zero exactly when ``live`` has unknown ones.
        if not unknown_counts.get(column, 0):
            continue
        parts.append(
            f"SELECT _rid, _file, _row, {lit(column)} AS col, {lit(rule)} AS rule, {value} AS "
            f"value, {message_sql(rule, params, value)} AS message, "
            f"{lit(t('ingest.hint.' + rule, **params))} AS hint {unknown_refs(column, live)}"
        )

    def result(
        violations: list[Violation], counts: dict[str, int], rejected: int, viol: str | None
    ) -> Validation:
        """The validation, with the batch's set-up and whatever the checks found."""
        return Validation(
            typed_name,
            present,
            violations,
            counts,
            sum(counts.values()),
            rejected,
            viol,
            temps,
            n_rows,
            n_bad,
            collapsed,
            n_collapsed,
            kept if layout is not None and positional is not None else None,
        )

    if not parts:
        return result([], {}, 0, None)
    temps.append(viol_name)
    duck.execute(f"CREATE TEMP TABLE {quote(viol_name)} AS " + " UNION ALL ".join(parts))
    viol = quote(viol_name)
    counts = {
        str(rule): int(n)
        for rule, n in duck.execute(
            f"SELECT rule, count(*) FROM {viol} GROUP BY rule ORDER BY rule"
        ).fetchall()
    }
    if not counts:
        return result([], {}, 0, None)
    rejected = duck.execute(f"SELECT count(DISTINCT _rid) FROM {viol}").fetchone()
    rows = duck.execute(
        f"SELECT _file, _row, col, rule, value, message, hint FROM {viol} "
        f"ORDER BY _file, _row, _rid, col, rule LIMIT {SHOWN}"
    ).fetchall()
    violations = [
        Violation(
            rule=rule, message=message, file=file, row=row, column=col, value=value, hint=hint
        )
        for file, row, col, rule, value, message, hint in rows
    ]
    return result(violations, counts, int(rejected[0]) if rejected else 0, viol_name)


def _layout_sql(
    table: Table, present: Sequence[str], out_cols: Sequence[str], layout: Sequence[tuple[str, str]]
) -> list[str]:
    """Every column of ``layout`` in order, cast to its type: present ones typed, others default."""
    typed = dict(zip(present, out_cols, strict=True))
    parts = []
    for name, sql_type in layout:
        if name in typed:
            value = typed[name].removesuffix(f" AS {quote(name)}")
        else:
            default = table.column(name).default if name in table.column_names else None
            value = "NULL" if default is None else lit(default)
        parts.append(f"CAST({value} AS {sql_type}) AS {quote(name)}")
    return parts


def _inner_sql(base: str, raw_select: str, present: Sequence[str], typed_select: str) -> str:
    """Raw text and typed value of every present column, with ``_rid``, ``_file``, ``_row``."""
    return (
        f"SELECT _rid, _file, _row, {', '.join(raw_name(c) for c in present)}, {typed_select} "
        f"FROM (SELECT _rid, _file, _row, {raw_select} FROM ({base}))"
    )
