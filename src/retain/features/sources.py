"""Where features, labels, lifetime value and scoring read from: the canonical tables, typed.

:class:`Sources` is built once per run, from a warehouse connection (every canonical table it
holds) or from a mapping of table names to Ibis tables or pandas frames (tests, notebooks), and
then handed down to every function that reads data. Absent tables are ``None``: the features
that need them come out as nulls, so the feature schema never depends on which tables a business
has loaded. Each present table is completed to the canonical columns (optional ones as typed
nulls) and its required columns are checked, once.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, TypeAlias, Union

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd

from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError, MissingColumnError, Violation
from retain.facts import activity_rows, completed_orders, require_columns
from retain.i18n import t
from retain.schema import CANONICAL_TABLES

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["TABLES", "SourceLike", "Sources"]

TABLES: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "orders": ("customer_id", "ordered_at", "amount"),
    "events": ("customer_id", "occurred_at", "name"),
    "subscriptions": ("customer_id", "plan", "started_at", "ended_at"),
    "interactions": ("customer_id", "occurred_at", "kind"),
    "order_lines": ("order_id", "quantity"),
}
"""The canonical tables features read, each with the columns it must have."""

TableLike: TypeAlias = "ir.Table | pd.DataFrame | None"


@dataclass(frozen=True)
class Sources:
    """The canonical tables of one business, completed and checked; ``None`` where absent.

    Build it with :meth:`from_warehouse` or :meth:`from_tables` (or :meth:`of`, which accepts
    either input and passes a :class:`Sources` through unchanged).
    """

    customers: ir.Table | None = None
    orders: ir.Table | None = None
    events: ir.Table | None = None
    subscriptions: ir.Table | None = None
    interactions: ir.Table | None = None
    order_lines: ir.Table | None = None
    """The products of each order; timed by their order (basket-size features)."""
    warehouse: BaseBackend | None = field(default=None, compare=False, repr=False)
    """The connection the tables came from; ``None`` for frames. Results are written only here."""
    filled: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)
    """Per table, the optional columns the data lacks, added here as typed nulls."""
    fingerprint: tuple[Hashable, ...] | None = field(default=None, compare=False, repr=False)
    """For tables read from ``warehouse`` as they are (:meth:`from_warehouse`): each one's
    canonical name, name, namespace and schema, all a query compiled over them depends on
    (:mod:`retain.features._compiled` keys its cache on it); ``None`` otherwise."""

    def __post_init__(self) -> None:
        if self.orders is None and self.events is None and self.subscriptions is None:
            raise MissingColumnError(
                [
                    Violation(
                        rule="no_activity_table",
                        message=t("churn.no_activity_tables"),
                        hint=t("churn.no_activity_tables_hint"),
                    )
                ]
            )

    @classmethod
    def from_warehouse(cls, con: BaseBackend) -> Sources:
        """Every canonical table ``con`` holds (listed once)."""
        present = set(con.list_tables())
        tables = {name: con.table(name) for name in TABLES if name in present}
        prints = [_fingerprint(name, table) for name, table in tables.items()]
        fingerprint = None if None in prints else tuple(prints)
        return cls._build(tables, warehouse=con, fingerprint=fingerprint)

    @classmethod
    def from_tables(cls, tables: Mapping[str, TableLike]) -> Sources:
        """The canonical tables in ``tables`` (other names are ignored; frames are wrapped)."""
        found: dict[str, ir.Table] = {}
        for name, obj in tables.items():
            if name not in TABLES or obj is None:
                continue
            found[name] = ibis.memtable(obj) if isinstance(obj, pd.DataFrame) else obj
        return cls._build(found, warehouse=None)

    @classmethod
    def of(cls, value: SourceLike) -> Sources:
        """``value`` as :class:`Sources`: itself, a warehouse connection, or a mapping."""
        if isinstance(value, Sources):
            return value
        if isinstance(value, Mapping):
            return cls.from_tables(value)
        if hasattr(value, "list_tables") and hasattr(value, "table"):
            return cls.from_warehouse(value)
        raise InvalidParameterError(
            t("churn.bad_source", kind=type(value).__name__), hint=t("churn.bad_source_hint")
        )

    @classmethod
    def _build(
        cls,
        tables: Mapping[str, ir.Table],
        *,
        warehouse: BaseBackend | None,
        fingerprint: tuple[Hashable, ...] | None = None,
    ) -> Sources:
        completed = {name: _complete(name, table) for name, table in tables.items()}
        filled = {
            name: frozenset(c for c in table.columns if c not in tables[name].columns)
            for name, table in completed.items()
        }
        return cls(**completed, warehouse=warehouse, filled=filled, fingerprint=fingerprint)

    def table(self, name: str) -> ir.Table | None:
        """The table called ``name`` (one of :data:`TABLES`), or ``None`` when absent."""
        if name not in TABLES:
            raise KeyError(name)
        value: ir.Table | None = getattr(self, name)
        return value

    def present(self) -> list[str]:
        """Names of the tables that are present, in canonical order."""
        return [
            f.name for f in fields(self) if f.name in TABLES and getattr(self, f.name) is not None
        ]

    def for_amounts(self, name: str) -> ir.Table | None:
        """The table called ``name`` to read amounts from, ready for ``in_reporting_currency``.

        Without the ``currency`` column where the data has none (it was added here as nulls):
        every amount is then in the reporting currency, and ``in_reporting_currency`` returns
        the table as it is instead of querying the engine for the codes present (a query per
        call, each time a feature snapshot is built).
        """
        table = self.table(name)
        if table is None or "currency" not in self.filled.get(name, frozenset()):
            return table
        return table.drop("currency")

    def completed_orders(self) -> ir.Table | None:
        """Orders that count as purchases (:func:`retain.facts.is_completed`), or ``None``."""
        return None if self.orders is None else completed_orders(self.orders)

    def activity(self, definition: ChurnDefinition) -> ir.Table:
        """``(customer_id, at)``: what counts as activity for a non-contractual definition."""
        parts = activity_rows(
            orders=self.for_amounts("orders"),  # (customer_id, at): the amounts are not read
            events=self.events,
            kind=definition.activity,
            event_names=definition.event_names,
        )
        if not parts:
            needed = "orders" if definition.activity == "orders" else "events"
            raise MissingColumnError(
                [
                    Violation(
                        rule="no_activity_table",
                        message=t(
                            "churn.no_activity_table",
                            definition=definition.name,
                            activity=definition.activity,
                            table=needed,
                        ),
                        file=needed,
                        hint=t("churn.no_activity_table_hint", table=needed),
                    )
                ]
            )
        out = parts[0]
        for part in parts[1:]:
            out = out.union(part)
        return out


SourceLike = Union[Sources, "BaseBackend", Mapping[str, TableLike]]
"""What a data-reading function accepts: :class:`Sources`, a warehouse connection, or a mapping."""


def _fingerprint(name: str, table: ir.Table) -> Hashable | None:
    """What a compiled query depends on of a warehouse table: its names and its schema."""
    op = table.op()
    if not isinstance(op, ops.DatabaseTable):  # a backend's table() gives one
        return None
    return (name, op.name, op.namespace, op.schema)


def _complete(name: str, table: ir.Table) -> ir.Table:
    """Add the optional canonical columns a table lacks (as typed nulls) and check required ones."""
    require_columns(table, name=name, columns=TABLES[name], purpose=t("churn.features_purpose"))
    extra = {
        col.name: ibis.null().cast(col.dtype)
        for col in CANONICAL_TABLES[name].columns
        if col.name not in table.columns
    }
    if extra:
        table = table.mutate(**extra)
    return table
