"""Metrics for the API and the dashboard: the library's metric tables, executed at this edge.

``period_table`` and ``cohort_table`` call :func:`retain.metrics.period_metrics` and
:func:`retain.metrics.cohort_retention` with the CLI's parameters; ``overview`` gathers the
dashboard's headline numbers. Each piece reports what is missing instead of failing, so a
partly loaded warehouse still gets a useful overview.

Every figure belongs to a business line (a ``[[churn]]`` section): what makes a customer count
comes from the line (:func:`activity_source`): a contractual line counts customers with a paid
subscription live (on its plans), a non-contractual one customers with a completed order (or
an event, with ``activity = "events"``). A subscription-only business (Telco) thus gets churn
and retention from its subscriptions instead of "no orders yet".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from retain import targeting
from retain import warehouse as wh
from retain.app._frames import records
from retain.errors import InvalidParameterError
from retain.i18n import t

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

    from retain.config import ChurnDefinition, Settings
    from retain.metrics import Activity

__all__ = [
    "ActivitySource",
    "activity_source",
    "at_risk_summary",
    "cohort_table",
    "has_rows",
    "line_activity",
    "line_named",
    "mrr_table",
    "overview",
    "period_table",
]

ActivitySource = Literal["orders", "subscriptions", "events"]
"""The warehouse table whose rows make a customer count in a period."""


def has_rows(con: BaseBackend, name: str) -> bool:
    """Whether warehouse table ``name`` exists and holds at least one row."""
    if not wh.table_exists(con, name):
        return False
    return bool(wh.read_table(con, name).limit(1).count().to_pandas())


def line_named(settings: Settings, name: str | None) -> ChurnDefinition:
    """The configured line called ``name`` (the first when None); unknown names are a 422."""
    if name is None or any(d.name == name for d in settings.churn):
        return settings.churn_definition(name)
    known = ", ".join(d.name for d in settings.churn)
    raise InvalidParameterError(
        t("metrics.unknown_line", name=repr(name), known=known),
        hint=t("metrics.unknown_line_hint"),
    )


def activity_source(line: ChurnDefinition) -> ActivitySource:
    """Which table makes a customer of ``line`` count: subscriptions, orders or events.

    A contractual line counts live subscriptions; a non-contractual line counts completed
    orders, or events when its ``activity`` is ``"events"`` (``"any"`` counts orders here: the
    period figures take one kind of activity).
    """
    if line.kind == "contractual":
        return "subscriptions"
    return "events" if line.activity == "events" else "orders"


def _line_subscriptions(con: BaseBackend, line: ChurnDefinition) -> ir.Table:
    """The subscriptions of ``line``: those on its plans, or all when it names none."""
    subs = wh.read_table(con, "subscriptions")
    return subs.filter(subs.plan.isin(line.plans)) if line.plans else subs


def line_activity(
    con: BaseBackend, line: ChurnDefinition
) -> tuple[ir.Table | None, Activity | None]:
    """The orders (when loaded) and the activity of ``line`` for the library's metrics.

    ``None`` as activity means the library's default, a completed order.
    """
    from retain import metrics

    orders = wh.read_table(con, "orders") if has_rows(con, "orders") else None
    source = activity_source(line)
    if source == "subscriptions":
        return orders, metrics.subscription_activity(_line_subscriptions(con, line))
    if source == "events":
        events = wh.read_table(con, "events")
        return orders, metrics.event_activity(events, line.event_names or None)
    return orders, None


def period_table(
    con: BaseBackend,
    settings: Settings,
    *,
    period: str = "month",
    by: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    definition: str | None = None,
) -> list[dict[str, Any]]:
    """Churn, retention, new/lost/reactivated customers and revenue per period.

    Without ``definition`` a customer counts with a completed order (the CLI's default); with
    it, with the named line's activity (:func:`line_activity`).
    """
    from retain.metrics import period_metrics

    if definition is None:
        orders: ir.Table | None = wh.read_table(con, "orders")
        activity = None
    else:
        orders, activity = line_activity(con, line_named(settings, definition))
    customers = wh.read_table(con, "customers") if wh.table_exists(con, "customers") else None
    table = period_metrics(
        orders,
        period=period,
        activity=activity,
        customers=customers,
        by=by or None,
        tz=settings.time_zone,
        start=start,
        end=end,
    )
    return records(table.order_by("period_start").to_pandas())


def cohort_table(
    con: BaseBackend,
    settings: Settings,
    *,
    period: str = "month",
    kind: Literal["logo", "revenue"] = "logo",
    mode: Literal["classic", "unbounded"] = "classic",
    definition: str | None = None,
) -> list[dict[str, Any]]:
    """Cohort retention: one row per (cohort, period_index), by the line's activity if named."""
    from retain.metrics import cohort_retention

    if definition is None:
        orders: ir.Table | None = wh.read_table(con, "orders")
        activity = None
    else:
        orders, activity = line_activity(con, line_named(settings, definition))
    table = cohort_retention(
        orders, period=period, kind=kind, mode=mode, activity=activity, tz=settings.time_zone
    )
    return records(table.order_by(["cohort", "period_index"]).to_pandas())


def mrr_table(
    con: BaseBackend,
    *,
    period: str = "month",
    tz: str = "UTC",
    line: ChurnDefinition | None = None,
) -> list[dict[str, Any]]:
    """Monthly recurring revenue movements from ``subscriptions`` (of ``line``'s plans if given)."""
    from retain.metrics import mrr_movements

    subs = _line_subscriptions(con, line) if line else wh.read_table(con, "subscriptions")
    table = mrr_movements(subs, period=period, tz=tz)
    return records(table.order_by("period_start").to_pandas())


def at_risk_summary(
    con: BaseBackend, settings: Settings, definition: str | None = None
) -> dict[str, Any] | None:
    """Customers scored, how many in each band, and value at risk (sum of p(churn) x CLV).

    :func:`retain.targeting.at_risk_summary` over the named churn definition (the first
    when none is named); None when nothing is scored yet.
    """
    if not has_rows(con, "churn_scores"):
        return None
    tables = frozenset(con.list_tables())
    line = line_named(settings, definition)
    summary = targeting.at_risk_summary(con, definition=line.name, tables=tables, line=line)
    rows = records(summary.to_pandas())
    if not rows or not rows[0]["scored"]:
        return None
    return {**rows[0], "definition": line.name}


def _months_between(
    rows: list[dict[str, Any]], start: str | None, end: str | None
) -> list[dict[str, Any]]:
    """The monthly rows whose month overlaps the local dates ``start`` .. ``end``."""
    return [
        r
        for r in rows
        if (start is None or str(r["period_start"])[:7] >= start[:7])
        and (end is None or str(r["period_start"])[:10] <= end)
    ]


def overview(
    con: BaseBackend,
    settings: Settings,
    *,
    definition: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Headline numbers of one business line with trends; ``missing`` names what is not there.

    ``line`` names the line every number belongs to (the first configured when ``definition``
    is None), ``lines`` every configured line, ``activity`` the table that made customers
    count. MRR belongs to a contractual line (to the whole business when no line is
    contractual). ``start`` / ``end`` (local dates) bound the monthly periods.
    """
    line = line_named(settings, definition)
    source = activity_source(line)
    contractual = [d for d in settings.churn if d.kind == "contractual"]
    out: dict[str, Any] = {
        "line": line.name,
        "kind": line.kind,
        "activity": source,
        "lines": [d.name for d in settings.churn],
        "start": start,
        "end": end,
        "periods": [],
        "mrr": [],
        "at_risk": None,
        "missing": [],
    }
    if has_rows(con, source):
        out["periods"] = period_table(
            con, settings, period="month", start=start, end=end, definition=line.name
        )
    else:
        out["missing"].append(source)
    if line.kind == "contractual" or not contractual:
        if has_rows(con, "subscriptions"):
            mrr = mrr_table(
                con,
                period="month",
                tz=settings.time_zone,
                line=line if line.kind == "contractual" else None,
            )
            out["mrr"] = _months_between(mrr, start, end)
        elif "subscriptions" not in out["missing"]:
            out["missing"].append("subscriptions")
    out["at_risk"] = at_risk_summary(con, settings, line.name)
    if out["at_risk"] is None:
        out["missing"].append("churn_scores")
    if not has_rows(con, "clv_scores"):
        out["missing"].append("clv_scores")
    return out
