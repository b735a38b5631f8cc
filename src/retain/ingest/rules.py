"""The row rules of validation as SQL: casting raw text to canonical types, one check per rule.

:func:`typed_sql` turns a column's raw text into its canonical type (NULL when it does not
parse); :func:`row_checks` lists the :class:`Check` conditions that apply to the columns of a
batch; :func:`message_sql` renders a rule's translated message with the row's value. The rules
themselves are listed in :mod:`retain.ingest.validate`, which runs them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from retain.i18n import t
from retain.ingest.readers import quote
from retain.ingest.vocabularies import LANGUAGE_PATTERN, countries, time_zones
from retain.schema import Column, Table

__all__ = ["Check", "lit", "message_sql", "raw_name", "row_checks", "typed_sql"]


_TRUE = ("true", "t", "yes", "y", "1")


_FALSE = ("false", "f", "no", "n", "0")


def lit(value: Any) -> str:
    """``value`` as a single-quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def raw_name(name: str) -> str:
    """The quoted name of the column holding ``name``'s raw text in a batch."""
    return quote(f"__r_{name}")


def _timestamp_sql(r: str, formats: Sequence[str], time_zone: str) -> str:
    """Naive UTC timestamp from text: offsets honoured, naive values read in ``time_zone``."""
    if formats:
        aware = [f for f in formats if "%z" in f or "%Z" in f]
        naive = [f for f in formats if f not in aware]
        parts = []
        if naive:
            fmts = "[" + ", ".join(lit(f) for f in naive) + "]"
            local = f"try_strptime({r}, {fmts})"
            parts.append(
                local
                if time_zone == "UTC"
                else f"timezone('UTC', timezone({lit(time_zone)}, {local}))"
            )
        if aware:
            fmts = "[" + ", ".join(lit(f) for f in aware) + "]"
            parts.append(f"timezone('UTC', try_strptime({r}, {fmts}))")
        return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
    local = f"TRY_CAST({r} AS TIMESTAMP)"
    if time_zone != "UTC":
        local = f"timezone('UTC', timezone({lit(time_zone)}, {local}))"
    offset = (
        f"timezone('UTC', TRY_CAST(regexp_replace({r}, '\\s+([+-]\\d)', '\\1') AS TIMESTAMPTZ))"
    )
    # An offset can only follow the time, i.e. after 'YYYY-MM-DD'; plain string searches keep
    # the common case (no offset) free of a regular expression.
    tail = f"substr({r}, 11)"
    has_offset = (
        f"(strpos({tail}, '+') > 0 OR strpos({tail}, '-') > 0 OR suffix({r}, 'Z') "
        f"OR suffix({r}, 'z'))"
    )
    return f"CASE WHEN {has_offset} THEN {offset} ELSE {local} END"


def _number_sql(r: str, kind: str) -> str:
    return f"coalesce(TRY_CAST({r} AS {kind}), TRY_CAST(trim({r}) AS {kind}))"


def typed_sql(col: Column, r: str, *, formats: Sequence[str], time_zone: str) -> str:
    """SQL casting the raw text ``r`` to ``col``'s canonical type (NULL when it does not parse)."""
    if col.kind == "timestamp":
        return _timestamp_sql(r, formats, time_zone)
    if col.kind == "date":
        if formats:
            fmts = "[" + ", ".join(lit(f) for f in formats) + "]"
            return f"CAST(try_strptime({r}, {fmts}) AS DATE)"
        return f"TRY_CAST({r} AS DATE)"
    # DuckDB's casts to numbers skip ASCII blanks themselves; trim() (which also removes
    # Unicode spaces: no-break, ideographic) is only paid on the values that did not parse.
    if col.kind == "decimal":
        return _number_sql(r, "DECIMAL(18, 4)")
    if col.kind == "float":
        return _number_sql(r, "DOUBLE")
    if col.kind == "integer":
        d = _number_sql(r, "DOUBLE")
        return f"CASE WHEN {d} = floor({d}) THEN TRY_CAST({d} AS BIGINT) END"
    if col.kind == "boolean":
        low = f"lower(trim({r}))"
        return (
            f"CASE WHEN {low} IN ({', '.join(map(lit, _TRUE))}) THEN true "
            f"WHEN {low} IN ({', '.join(map(lit, _FALSE))}) THEN false END"
        )
    if col.kind == "json":
        return f"CASE WHEN json_valid({r}) THEN {r} END"
    return r


_PARSE_RULE = {
    "timestamp": "invalid_date",
    "date": "invalid_date",
    "decimal": "invalid_number",
    "float": "invalid_number",
    "integer": "invalid_number",
    "boolean": "invalid_boolean",
    "json": "invalid_json",
}


@dataclass(frozen=True)
class Check:
    """One row rule on one column: SQL condition over ``r`` (raw) and ``v`` (typed) columns."""

    column: str
    rule: str
    condition: str
    params: dict[str, Any] = field(default_factory=dict)
    flag: str | None = None
    """A cheaper condition for the one-pass ``_bad`` flag (implied by some check's condition)."""


def _vocabulary_check(name: str, vocabulary: str, v: str) -> Check:
    if vocabulary == "country":
        codes = ", ".join(lit(c) for c in countries())
        return Check(name, "invalid_country", f"upper(trim({v})) NOT IN ({codes})")
    if vocabulary == "language":
        return Check(
            name, "invalid_language", f"NOT regexp_full_match(trim({v}), {lit(LANGUAGE_PATTERN)})"
        )
    zones = ", ".join(lit(z) for z in time_zones())
    return Check(name, "invalid_time_zone", f"trim({v}) NOT IN ({zones})")


def _decimal_checks(name: str, r: str, v: str, max_amount: float) -> list[Check]:
    """Amounts: unparsable, too large (also beyond decimal(18, 4)), or too precise to store."""
    d = f"TRY_CAST(trim(CAST({r} AS VARCHAR)) AS DOUBLE)"
    huge = f"(isfinite({d}) AND abs({d}) > {max_amount})"
    return [
        Check(
            name,
            "invalid_number",
            f"{r} IS NOT NULL AND {v} IS NULL AND NOT coalesce({huge}, false)",
            {"kind": "decimal"},
            flag=f"{r} IS NOT NULL AND {v} IS NULL",
        ),
        Check(
            name,
            "absurd_amount",
            f"abs({v}) > {max_amount} OR ({v} IS NULL AND {huge})",
            {"maximum": max_amount},
            flag=f"abs({v}) > {max_amount}",
        ),
        # Trimming only the values the plain cast refuses gives the same number (the cast
        # skips ASCII blanks itself), without a trim() of every amount on the one pass.
        Check(
            name,
            "excess_precision",
            f"{_number_sql(f'CAST({r} AS VARCHAR)', 'DOUBLE')} <> CAST({v} AS DOUBLE)",
            {"scale": 4},
        ),
    ]


def row_checks(
    table: Table,
    present: Sequence[str],
    *,
    max_amount: float,
    latest: datetime,
    earliest: str | None = None,
    max_field_bytes: int | None = None,
    nul_free: Collection[str] = (),
    fits: Collection[str] = (),
) -> list[Check]:
    """The per-row checks that apply to the columns present in the batch.

    Columns in ``nul_free`` hold text already proven free of NUL characters (the CSV checks):
    their ``nul_byte`` check cannot fire and is left out; so is ``field_too_large`` for the
    columns in ``fits``, whose text is proven no longer than ``max_field_bytes``.
    """
    checks: list[Check] = []
    for col in table.columns:
        if col.name not in present:
            continue
        r, v = raw_name(col.name), quote(col.name)
        if col.required:
            checks.append(Check(col.name, "missing_value", f"{r} IS NULL"))
        if max_field_bytes is not None and col.kind != "json" and col.name not in fits:
            checks.append(
                Check(
                    col.name,
                    "field_too_large",
                    f"strlen(CAST({r} AS VARCHAR)) > {max_field_bytes}",
                    {"maximum": max_field_bytes},
                )
            )
        if col.kind in {"string", "json"} and col.name not in nul_free:
            checks.append(Check(col.name, "nul_byte", f"contains({r}, chr(0))"))
        if col.vocabulary is not None:
            checks.append(_vocabulary_check(col.name, col.vocabulary, v))
        if col.kind == "decimal":
            checks.extend(_decimal_checks(col.name, r, v, max_amount))
        elif col.kind in _PARSE_RULE:
            checks.append(
                Check(
                    col.name,
                    _PARSE_RULE[col.kind],
                    f"{r} IS NOT NULL AND {v} IS NULL",
                    {"kind": col.kind},
                )
            )
        if col.allowed:
            values = ", ".join(lit(a) for a in col.allowed)
            checks.append(
                Check(
                    col.name,
                    "invalid_value",
                    f"{v} NOT IN ({values})",
                    {"allowed": ", ".join(col.allowed)},
                )
            )
        if col.minimum is not None:
            rule = (
                "negative_amount" if col.kind == "decimal" and col.minimum == 0 else "below_minimum"
            )
            checks.append(Check(col.name, rule, f"{v} < {col.minimum}", {"minimum": col.minimum}))
        if earliest is not None and col.kind in {"timestamp", "date"}:
            checks.append(
                Check(
                    col.name,
                    "early_timestamp",
                    f"{v} < TIMESTAMP {lit(earliest)}",
                    {"earliest": earliest},
                )
            )
        if col.kind == "timestamp" and not col.future_allowed:
            checks.append(
                Check(
                    col.name,
                    "future_timestamp",
                    f"{v} > TIMESTAMP '{latest:%Y-%m-%d %H:%M:%S}'",
                    {"latest": f"{latest:%Y-%m-%d %H:%M}"},
                )
            )
    if table.name == "orders" and "amount" in present:
        status = quote("status") if "status" in present else "'completed'"
        checks.append(
            Check(
                "amount",
                "negative_amount",
                f"{quote('amount')} < 0 AND coalesce({status}, 'completed') "
                "NOT IN ('returned', 'cancelled')",
                {"minimum": 0},
            )
        )
    return checks


def message_sql(rule: str, params: dict[str, Any], value: str) -> str:
    """SQL rendering the translated message of ``rule`` with the row's ``value`` filled in."""
    template = t(f"ingest.rule.{rule}", value="@@value@@", **params)
    return "replace(" + lit(template) + ", '@@value@@', coalesce(" + value + ", ''))"
