"""Canonical JSON text, so two spellings of one JSON value compare equal in the staging engine.

Events are immutable: a stored event that comes again must be recognised as the same event even
when its JSON is spaced or ordered differently (a warehouse, PostgreSQL ``jsonb`` in particular,
may give it back respaced and with its keys reordered). DuckDB's ``json()`` minifies but keeps
the key order, so the comparisons (``event_conflict`` against stored rows, ``duplicate_key``
inside a batch) use :func:`canonical_json` instead: sorted keys, no spacing, registered once per
DuckDB connection as a vectorised function. Every warehouse engine is compared here, in DuckDB,
because the stored rows are read into the staging engine first.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
from duckdb.func import ARROW, SPECIAL
from duckdb.sqltypes import VARCHAR

__all__ = ["CANONICAL_JSON", "canonical_json", "canonical_sql", "register_canonical_json"]

CANONICAL_JSON = "retain_canonical_json"


def canonical_json(text: str | None) -> str | None:
    """``text`` as JSON with sorted keys and no spacing; text that is not JSON is kept as is."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_arrow(values: Any) -> Any:
    import pyarrow as pa

    return pa.array([canonical_json(v) for v in values.to_pylist()], type=pa.string())


def register_canonical_json(duck: duckdb.DuckDBPyConnection) -> None:
    """Make :data:`CANONICAL_JSON` callable in ``duck`` (a no-op when it already is)."""
    found = duck.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [CANONICAL_JSON]
    ).fetchall()  # read to the end: DuckDB 2.0 refuses create_function beside an open result
    if found and found[0][0]:
        return
    duck.create_function(
        CANONICAL_JSON,
        _canonical_arrow,
        [VARCHAR],
        VARCHAR,
        type=ARROW,
        null_handling=SPECIAL,
        side_effects=False,
    )


def canonical_sql(ref: str) -> str:
    """SQL for the canonical text of the JSON value ``ref`` (register the function first)."""
    return f"{CANONICAL_JSON}(CAST({ref} AS VARCHAR))"
