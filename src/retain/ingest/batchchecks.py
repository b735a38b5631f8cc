"""Checks over the whole typed batch: repeated keys, and events that differ from stored ones.

:func:`retain.ingest.validate.validate_batch` runs the row rules in one pass; the rules that
compare rows with each other (``duplicate_key``, identical repeats collapsing) or with the
warehouse (``event_conflict``) are built here, as SQL over the typed batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np

from retain.i18n import t
from retain.ingest.canonical import canonical_sql, register_canonical_json
from retain.ingest.readers import quote
from retain.ingest.rules import lit
from retain.schema import Table

__all__ = ["conflict_sql", "repeated_hashes", "repeated_keys"]


def repeated_hashes(
    duck: duckdb.DuckDBPyConnection, typed: str, key_cols: str, not_null: str
) -> int:
    """How many non-null keys of ``typed`` repeat an earlier one's 64-bit hash (0: all distinct).

    The hashes are sorted in place (8 bytes a row) and neighbours compared.
    """
    hashes = duck.execute(
        f"SELECT hash({key_cols}) AS h FROM {typed} WHERE {not_null}"
    ).fetchnumpy()["h"]
    values = np.asarray(hashes, dtype=np.uint64)
    values.sort()
    return int(np.count_nonzero(values[1:] == values[:-1]))


def repeated_keys(
    duck: duckdb.DuckDBPyConnection,
    typed: str,
    table: Table,
    key: Sequence[str],
    present: Sequence[str],
    not_null: str,
    tag: str,
) -> tuple[str, int, bool]:
    """Group the batch's repeated keys: identical repeats collapse, differing ones conflict.

    Returns the temporary table of collapsed ``_rid`` (a ``..._g`` table beside it holds each
    repeated key with its number of distinct versions), how many rows collapsed, and whether
    some key carries two different valid versions. A row that breaks a row rule is no version:
    it is rejected on its own and never kept, so the one good row with its key still loads.
    """
    key_cols = ", ".join(quote(k) for k in key)
    payload = "row(" + ", ".join(_compared(duck, table, "s", c) for c in present) + ")"
    name = f"_retain_dups_{tag}"
    # Only the rows of repeated keys are compared (the semi-join), so canonical JSON is computed
    # for those alone, not for the whole batch.
    same_key = " AND ".join(f"s.{quote(k)} = r.{quote(k)}" for k in key)
    duck.execute(
        f"CREATE TEMP TABLE {quote(name + '_g')} AS SELECT "
        + ", ".join(f"s.{quote(k)}" for k in key)
        + f", count(DISTINCT {payload}) FILTER (WHERE NOT s._bad) AS versions, "
        f"min(s._rid) FILTER (WHERE NOT s._bad) AS _keep FROM {typed} AS s SEMI JOIN "
        f"(SELECT {key_cols} FROM {typed} WHERE {not_null} GROUP BY {key_cols} "
        f"HAVING count(*) > 1) AS r ON {same_key} GROUP BY "
        + ", ".join(f"s.{quote(k)}" for k in key)
    )
    on = " AND ".join(f"s.{quote(k)} = g.{quote(k)}" for k in key)
    duck.execute(
        f"CREATE TEMP TABLE {quote(name)} AS SELECT s._rid FROM {typed} AS s JOIN "
        f"{quote(name + '_g')} AS g ON {on} WHERE g.versions = 1 AND NOT s._bad AND "
        "s._rid <> g._keep"
    )
    counted = duck.execute(
        f"SELECT (SELECT count(*) FROM {quote(name)}), "
        f"(SELECT count(*) FROM {quote(name + '_g')} WHERE versions > 1)"
    ).fetchone()
    n_collapsed, n_conflicting = (int(counted[0]), int(counted[1])) if counted else (0, 0)
    return name, n_collapsed, bool(n_conflicting)


def conflict_sql(
    duck: duckdb.DuckDBPyConnection,
    live: str,
    stored: str,
    table: Table,
    key: Sequence[str],
    present: Sequence[str],
) -> str | None:
    """Violations for batch rows whose key is stored with other values (immutable tables).

    Only the columns the batch carries are compared: a column it lacks keeps what is stored
    either way. JSON is compared in canonical form (a warehouse may store it with other spacing
    or key order). A NULL against a stored value is a difference: an event is never enriched.
    ``None`` when no row conflicts (the count runs first, the listing only then).
    """
    compared = [c for c in present if c not in key]
    if not compared:
        return None

    def differ(c: str) -> str:
        return f"{_compared(duck, table, 's', c)} IS DISTINCT FROM {_compared(duck, table, 't', c)}"

    on = " AND ".join(f"s.{quote(k)} = t.{quote(k)}" for k in key)
    differs = " OR ".join(differ(c) for c in compared)
    source = f"FROM (SELECT * FROM {live}) AS s JOIN {stored} AS t ON {on} WHERE ({differs})"
    found = duck.execute(f"SELECT count(*) {source}").fetchone()
    if not found or not found[0]:
        return None
    columns = (
        "concat_ws(', ', "
        + ", ".join(f"CASE WHEN {differ(c)} THEN {lit(c)} END" for c in compared)
        + ")"
    )
    value = (
        f"CAST(s.{quote(key[0])} AS VARCHAR)"
        if len(key) == 1
        else "concat_ws(' / ', " + ", ".join(f"CAST(s.{quote(k)} AS VARCHAR)" for k in key) + ")"
    )
    template = t("ingest.rule.event_conflict", value="@@value@@", columns="@@columns@@")
    message = (
        f"replace(replace({lit(template)}, '@@value@@', coalesce({value}, '')), "
        f"'@@columns@@', {columns})"
    )
    return (
        f"SELECT s._rid, s._file, s._row, {columns} AS col, 'event_conflict' AS rule, "
        f"{value} AS value, {message} AS message, {lit(t('ingest.hint.event_conflict'))} "
        f"AS hint {source}"
    )


def _compared(duck: duckdb.DuckDBPyConnection, table: Table, alias: str, column: str) -> str:
    """SQL for ``alias.column`` as compared between versions: JSON in canonical form."""
    ref = f"{alias}.{quote(column)}"
    if table.column(column).kind != "json":
        return ref
    register_canonical_json(duck)
    return canonical_sql(ref)
