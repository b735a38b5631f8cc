r"""Column mappings: a company's own export -> the canonical columns, without editing the file.

A mapping is a TOML file (``retain ingest orders export.csv --mapping mapping.toml``)::

    # reader options (all optional; command-line options win)
    encoding = "cp932"
    delimiter = ","
    sheet = "注文"                       # Excel workbooks: the sheet (name or number from 1)
    date_format = "%Y/%m/%d %H:%M"      # for every timestamp column without its own
    ignore = ["メモ"]                    # source columns to drop

    [columns]                           # canonical column = source column or SQL expression
    order_id = "注文番号"
    customer_id = "会員ID"
    ordered_at = "注文日時"
    amount = "CAST(\"税込金額\" AS DECIMAL(18, 4)) - CAST(\"値引\" AS DECIMAL(18, 4))"

    [constants]                         # the same value on every row
    currency = "JPY"

    [date_formats]                      # strptime formats per column (a list tries each)
    ordered_at = ["%Y/%m/%d %H:%M", "%Y/%m/%d"]

    [values.status]                     # source value -> canonical value
    "キャンセル" = "cancelled"
    "返品" = "returned"
    "完了" = "completed"

A value in ``[columns]`` that names a source column takes that column; anything else is a DuckDB
SQL expression over the source columns (evaluated in the private staging engine). A canonical
column that the mapping does not mention is taken from a source column of the same name.
Source columns left over go to the table's JSON column (``attributes`` for customers,
``properties`` for events and interactions) or, for tables without one, are an error unless
listed under ``ignore``. ``query`` (advanced, used by the dataset recipes) is a SQL ``SELECT``
over a relation called ``source`` whose result replaces the source before mapping; it may carry
``_file`` and ``_row`` so errors still point at source lines.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retain.errors import ConfigError
from retain.i18n import t
from retain.ingest.readers import quote
from retain.schema import Table

__all__ = ["ColumnPlan", "Mapping", "plan_columns", "read_mapping"]

_READER_KEYS = {"encoding", "delimiter", "header", "source_columns", "date_format", "sheet"}
_KEYS = _READER_KEYS | {"columns", "constants", "date_formats", "values", "ignore", "query"}


@dataclass(frozen=True)
class Mapping:
    """How source columns become canonical columns (see the module docstring for the file form).

    Parameters
    ----------
    columns
        Canonical column -> source column name or SQL expression.
    constants
        Canonical column -> value used on every row.
    date_formats
        Canonical column -> strptime formats tried in order.
    values
        Canonical column -> {source value: canonical value}.
    ignore
        Source columns to drop.
    query
        SQL ``SELECT`` over ``source`` that reshapes the input first (aggregations, filters).
    encoding, delimiter, header, source_columns, date_format, sheet
        Reader options; explicit arguments to :func:`retain.ingest.ingest` win over these.
    """

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    date_formats: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    query: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    source_columns: tuple[str, ...] | None = None
    date_format: str | None = None
    sheet: str | None = None

    @classmethod
    def from_dict(cls, data: MappingABC[str, Any], *, where: str = "mapping") -> Mapping:
        """Build a mapping from parsed TOML, naming ``where`` in errors."""
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ConfigError(
                t("ingest.mapping_unknown_key", where=where, keys=", ".join(unknown)),
                hint=t("ingest.mapping_unknown_key_hint", keys=", ".join(sorted(_KEYS))),
            )
        formats: dict[str, list[str]] = {}
        for name, value in dict(data.get("date_formats", {})).items():
            formats[name] = [value] if isinstance(value, str) else [str(v) for v in value]
        try:
            return cls(
                columns={str(k): str(v) for k, v in dict(data.get("columns", {})).items()},
                constants=dict(data.get("constants", {})),
                date_formats=formats,
                values={
                    str(k): {str(a): str(b) for a, b in dict(v).items()}
                    for k, v in dict(data.get("values", {})).items()
                },
                ignore=tuple(str(v) for v in data.get("ignore", ())),
                query=data.get("query"),
                encoding=data.get("encoding"),
                delimiter=data.get("delimiter"),
                header=data.get("header"),
                source_columns=(
                    tuple(data["source_columns"]) if data.get("source_columns") else None
                ),
                date_format=data.get("date_format"),
                sheet=None if data.get("sheet") is None else str(data["sheet"]),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                t("ingest.mapping_invalid", where=where, reason=str(exc)),
                hint=t("ingest.mapping_invalid_hint"),
            ) from exc


def read_mapping(path: str | Path) -> Mapping:
    """Read a mapping TOML file; a :class:`~retain.errors.ConfigError` names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            t("ingest.mapping_missing", path=str(path)), hint=t("ingest.mapping_missing_hint")
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            t("ingest.mapping_invalid", where=str(path), reason=str(exc)),
            hint=t("ingest.mapping_invalid_hint"),
        ) from exc
    return Mapping.from_dict(data, where=path.name)


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "'true'" if value else "'false'"
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class ColumnPlan:
    """Where each canonical column comes from: SQL text expressions over the source relation."""

    expressions: dict[str, str]
    """Canonical column -> SQL giving its value as text (NULL when empty)."""
    extras: list[str]
    """Source columns folded into the table's JSON column."""
    unknown: list[str]
    """Source columns with nowhere to go (tables without a JSON column)."""
    missing: list[str]
    """Required canonical columns the source does not provide."""


def plan_columns(table: Table, source_columns: list[str], mapping: Mapping) -> ColumnPlan:
    """Decide, for each canonical column of ``table``, the SQL that produces it from the source."""
    canonical = set(table.column_names)
    for name in [*mapping.columns, *mapping.constants, *mapping.values, *mapping.date_formats]:
        if name not in canonical:
            raise ConfigError(
                t("ingest.mapping_unknown_column", table=table.name, column=name),
                hint=t(
                    "ingest.mapping_unknown_column_hint",
                    table=table.name,
                    columns=", ".join(table.column_names),
                ),
            )
    lower = {c.lower(): c for c in source_columns}
    used: set[str] = set(mapping.ignore) | {"_file", "_row"}
    exprs: dict[str, str] = {}
    for col in table.columns:
        if col.name in mapping.columns:
            spec = mapping.columns[col.name]
            if spec in source_columns:
                sql = quote(spec)
                used.add(spec)
            else:
                sql = f"CAST(({spec}) AS VARCHAR)"
                used.update(c for c in source_columns if c in spec)
        elif col.name in mapping.constants:
            sql = _sql_literal(mapping.constants[col.name])
        elif col.name in source_columns:
            sql = quote(col.name)
            used.add(col.name)
        elif col.name.lower() in lower:
            sql = quote(lower[col.name.lower()])
            used.add(lower[col.name.lower()])
        else:
            continue
        if col.name in mapping.values:
            cases = " ".join(
                f"WHEN {_sql_literal(a)} THEN {_sql_literal(b)}"
                for a, b in mapping.values[col.name].items()
            )
            sql = f"CASE {sql} {cases} ELSE {sql} END"
        exprs[col.name] = f"nullif({sql}, '')"
    leftover = [c for c in source_columns if c not in used]
    extras: list[str] = []
    unknown: list[str] = []
    if table.extra_columns in {"attributes", "properties"}:
        extras = leftover
    else:
        unknown = leftover
    missing = [c for c in table.required if c not in exprs]
    return ColumnPlan(exprs, extras, unknown, missing)
