"""The feature snapshot's SQL, compiled once per process and reused for every ``as_of``.

Building the snapshot's Ibis expression and compiling it to SQL costs a fixed ~0.2-0.3 s of
Python per call, whatever the data's size: as much as a third of DuckDB's own time at 100,000
customers. The SQL depends on the reference date only through literals (the clock's *slots*,
:class:`retain.features._clock.Clock`) and on whether its year and the next are leap years (the
clock's *shape*). So the expression is built once with each slot's stand-in value, compiled, and
kept; a later call finds each stand-in's SQL text and puts in the text of the real value,
rendered by the engine's own Ibis compiler (the same function that renders it in a full
compile: the result is the very query a full compile gives, which the tests check date by date).
Nothing written by a user is ever substituted: the values are timestamps and numbers worked out
from ``as_of`` by code. On PostgreSQL the snapshot is that text; on DuckDB it is a call of a
temporary table macro holding the kept query, one parameter per slot, with the values as
arguments.

The key is everything else the SQL depends on: the engine, each table's name, namespace and
schema as the warehouse reports them (read again on every call, so a changed table means a new
key), the churn definition and the attribute features. Only tables read straight from a
warehouse are cached, and only when no table has a currency column of its own (the
reporting-currency check queries the data while the expression is built, so its result is not a
function of the schema). Ibis options that change compilation (``ibis.options.sql``) are not
part of the key: retain sets none.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.schema as sch
import ibis.expr.types as ir
import pandas as pd

from retain.config import ChurnDefinition
from retain.features._clock import Clock, Slot
from retain.features.attributes import AttributeFeature
from retain.features.sources import Sources

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["ENGINES", "cache_size", "clear", "snapshot_query"]

ENGINES = frozenset({"duckdb", "postgres"})
"""Engines whose compiled snapshots are reused (tested on both). PySpark builds each time: its
job start-up dwarfs the compile."""

_SIZE = 32
"""Compiled snapshots kept (least recently used first out); each is one ~30 kB query."""


@dataclass(frozen=True)
class _Compiled:
    """A snapshot query with stand-in literals, and how to put the real ones in."""

    sql: str
    slots: tuple[tuple[str, Slot], ...]
    """Each slot with its stand-in's SQL text."""
    pattern: re.Pattern[str]
    schema: sch.Schema
    macro: tuple[str, str] | None
    """DuckDB: the table macro's name and the statement that creates it if it is missing."""

    def table(self, con: BaseBackend, as_of: pd.Timestamp) -> ir.Table:
        """The snapshot at ``as_of``, as a table expression over ``con``."""
        texts = {text: _render(con, slot.dtype, slot.value(as_of)) for text, slot in self.slots}
        if self.macro is not None:
            # Ibis re-parses a text table's SQL whenever it compiles it (~0.07 s for the whole
            # 30 kB query), so on DuckDB the text is a call of the macro holding the query, a
            # few hundred bytes; DuckDB puts the arguments in place of its parameters.
            name, create = self.macro
            con.raw_sql(create)  # type: ignore[attr-defined]
            args = ", ".join(texts[text] for text, _ in self.slots)
            query = f"SELECT * FROM {name}({args})"
        else:
            query = self.pattern.sub(lambda m: texts[m.group(0)], self.sql)
        return con.sql(query, schema=self.schema)  # type: ignore[attr-defined,no-any-return]


_UNCACHEABLE = object()
_cache: OrderedDict[Hashable, _Compiled | object] = OrderedDict()
_lock = threading.Lock()


def clear() -> None:
    """Forget every compiled snapshot (tests; a process never needs to)."""
    with _lock:
        _cache.clear()


def cache_size() -> int:
    """How many compiled snapshots are kept now."""
    with _lock:
        return len(_cache)


def snapshot_query(
    sources: Sources,
    as_of: pd.Timestamp,
    *,
    definition: ChurnDefinition,
    attributes: Sequence[AttributeFeature],
    build: Callable[[Clock], ir.Table],
) -> ir.Table:
    """The snapshot ``build`` describes at ``as_of``: compiled once per key, else built.

    ``build`` makes the expression with the clock it is given; it is called with stand-in
    values the first time a key is seen, and with the real ``as_of`` when the sources cannot
    be cached (frames, PySpark, a currency column of the data's own).
    """
    key = _key(sources, as_of, definition, attributes)
    if key is None:
        return build(Clock(as_of))
    with _lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
    con = sources.warehouse
    assert con is not None  # _key returned a key
    if entry is None:
        clock = Clock(as_of, stand_ins=True)
        entry = _compile(con, build(clock), clock.slots) or _UNCACHEABLE
        with _lock:
            _cache[key] = entry
            while len(_cache) > _SIZE:
                _cache.popitem(last=False)
    if isinstance(entry, _Compiled):
        return entry.table(con, as_of)
    return build(Clock(as_of))


def _key(
    sources: Sources,
    as_of: pd.Timestamp,
    definition: ChurnDefinition,
    attributes: Sequence[AttributeFeature],
) -> Hashable | None:
    con = sources.warehouse
    if con is None or sources.fingerprint is None or getattr(con, "name", None) not in ENGINES:
        return None
    for name in sources.present():
        table = sources.table(name)
        own = "currency" not in sources.filled.get(name, frozenset())
        if table is not None and "currency" in table.columns and own:
            return None
    return (
        con.name,
        type(con).__module__,
        sources.fingerprint,
        Clock.shape(as_of),
        definition.model_dump_json(),
        tuple(attributes),
    )


def _render(con: BaseBackend, dtype: dt.DataType, value: Any) -> str:
    """``value`` as a SQL literal of ``dtype``, as ``con``'s compiler writes it in a query."""
    op = ops.Literal(value, dtype)
    compiler: Any = con.compiler  # type: ignore[attr-defined]
    node = compiler.visit_node(op, value=op.value, dtype=op.dtype)
    return str(node.sql(dialect=con.dialect))  # type: ignore[attr-defined]


def _compile(con: BaseBackend, expr: ir.Table, slots: dict[str, Slot]) -> _Compiled | None:
    """``expr`` compiled with its slots' stand-ins, or ``None`` if one cannot be found."""
    sql: str = con.compile(expr)  # type: ignore[attr-defined]
    texts = {_render(con, slot.dtype, slot.stand_in): slot for slot in slots.values()}
    if len(texts) != len(slots):
        return None
    alternatives = "|".join(re.escape(text) for text in sorted(texts, key=len, reverse=True))
    pattern = re.compile(rf"(?<![0-9.]){alternatives}(?![0-9])")
    if {m.group(0) for m in pattern.finditer(sql)} != set(texts):
        return None  # a stand-in written differently in context: not safe to substitute
    slots_by_text = tuple(texts.items())
    return _Compiled(
        sql, slots_by_text, pattern, expr.schema(), _macro(con, sql, slots_by_text, pattern)
    )


def _macro(
    con: BaseBackend, sql: str, slots: tuple[tuple[str, Slot], ...], pattern: re.Pattern[str]
) -> tuple[str, str] | None:
    """On DuckDB, a temporary table macro holding ``sql`` with a parameter per slot.

    Its name is a digest of its text, so a changed query is a new macro; ``IF NOT EXISTS``
    makes creating it on every call cheap and safe on a connection that lost it (reconnected,
    or a transaction rolled back). Temporary objects are allowed on read-only connections.
    """
    if con.name != "duckdb":
        return None
    params = {text: f"_retain_slot_{i}" for i, (text, _) in enumerate(slots)}
    body = pattern.sub(lambda m: params[m.group(0)], sql)
    signature = ", ".join(params.values())
    name = "_retain_snapshot_" + hashlib.sha256(f"{signature}|{body}".encode()).hexdigest()[:20]
    return name, f"CREATE TEMP MACRO IF NOT EXISTS {name}({signature}) AS TABLE {body}"
