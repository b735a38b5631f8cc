"""Where features and labels read from: the canonical tables, cut at a reference date.

A caller passes either an Ibis backend (the warehouse; every canonical table present is used) or a
mapping ``table name -> ibis.Table | pandas.DataFrame`` (tests, notebooks). Absent tables are
``None``: the features that need them come out as nulls, so the feature schema never depends on
which tables a business has loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError, MissingColumnError, Violation
from retain.i18n import t
from retain.schema import CANONICAL_TABLES

__all__ = ["Sources", "activity", "as_timestamp", "resolve_sources"]

Sources = dict[str, ir.Table | None]
SourceLike = Any
"""An Ibis backend, or a mapping of canonical table names to Ibis tables or pandas frames."""

_NEEDED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "orders": ("customer_id", "ordered_at", "amount"),
    "events": ("customer_id", "occurred_at", "name"),
    "subscriptions": ("customer_id", "plan", "started_at", "ended_at"),
    "interactions": ("customer_id", "occurred_at", "kind"),
}


def as_timestamp(
    value: str | date | datetime | pd.Timestamp, *, name: str = "as_of"
) -> pd.Timestamp:
    """Parse a reference date into a naive UTC :class:`pandas.Timestamp` (warehouse convention)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidParameterError(
            t("churn.bad_date", name=name, value=repr(value)), hint=t("churn.bad_date_hint")
        ) from exc
    if pd.isna(ts):
        raise InvalidParameterError(t("churn.empty_date", name=name))
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _complete(name: str, table: ir.Table) -> ir.Table:
    """Add the optional canonical columns a table lacks (as typed nulls) and check required ones."""
    spec = CANONICAL_TABLES[name]
    missing = [c for c in _NEEDED[name] if c not in table.columns]
    if missing:
        raise MissingColumnError(
            [
                Violation(
                    rule="missing_column",
                    message=t("churn.missing_column", table=name, column=col),
                    file=name,
                    column=col,
                    hint=t("churn.missing_column_hint", table=name),
                )
                for col in missing
            ]
        )
    extra = {
        col.name: ibis.null().cast(col.dtype)
        for col in spec.columns
        if col.name not in table.columns
    }
    if extra:
        table = table.mutate(**extra)
    return table


def resolve_sources(con_or_tables: SourceLike) -> Sources:
    """The canonical tables in a backend or mapping, each completed to the canonical columns."""
    found: dict[str, ir.Table | None] = dict.fromkeys(_NEEDED)
    if isinstance(con_or_tables, Mapping):
        for name, obj in con_or_tables.items():
            if name not in _NEEDED or obj is None:
                continue
            found[name] = ibis.memtable(obj) if isinstance(obj, pd.DataFrame) else obj
    elif hasattr(con_or_tables, "list_tables"):
        present = set(con_or_tables.list_tables())
        for name in _NEEDED:
            if name in present:
                found[name] = con_or_tables.table(name)
    else:
        raise InvalidParameterError(
            t("churn.bad_source", kind=type(con_or_tables).__name__),
            hint=t("churn.bad_source_hint"),
        )
    out: Sources = {}
    for name, table in found.items():
        out[name] = _complete(name, table) if table is not None else None
    if out["orders"] is None and out["events"] is None and out["subscriptions"] is None:
        raise MissingColumnError(
            [
                Violation(
                    rule="no_activity_table",
                    message=t("churn.no_activity_tables"),
                    hint=t("churn.no_activity_tables_hint"),
                )
            ]
        )
    return out


def is_completed(orders: ir.Table) -> ir.BooleanValue:
    """Whether an order counts as a purchase: not cancelled and not a return."""
    return orders.status.isnull() | (orders.status == "completed")


def completed_orders(sources: Sources) -> ir.Table | None:
    """Orders that count as purchases (:func:`is_completed`)."""
    orders = sources["orders"]
    if orders is None:
        return None
    return orders.filter(is_completed(orders))


def activity(sources: Sources, definition: ChurnDefinition) -> ir.Table:
    """``(customer_id, at)``: what counts as activity for a non-contractual definition."""
    parts: list[ir.Table] = []
    orders = completed_orders(sources)
    events = sources["events"]
    if definition.activity in ("orders", "any") and orders is not None:
        parts.append(orders.select(customer_id=orders.customer_id, at=orders.ordered_at))
    if definition.activity in ("events", "any") and events is not None:
        chosen = events
        if definition.event_names:
            chosen = events.filter(events.name.isin(definition.event_names))
        parts.append(chosen.select(customer_id=chosen.customer_id, at=chosen.occurred_at))
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
