"""Metrics for the API and the dashboard: the library's metric tables, executed at this edge.

``period_table`` and ``cohort_table`` call :func:`retain.metrics.period_metrics` and
:func:`retain.metrics.cohort_retention` with the CLI's parameters; ``overview`` gathers the
dashboard's headline numbers. Each piece reports what is missing instead of failing, so a
partly loaded warehouse still gets a useful overview.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from retain import targeting
from retain import warehouse as wh
from retain.app._frames import records

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["at_risk_summary", "cohort_table", "has_rows", "mrr_table", "overview", "period_table"]


def has_rows(con: BaseBackend, name: str) -> bool:
    """Whether warehouse table ``name`` exists and holds at least one row."""
    if not wh.table_exists(con, name):
        return False
    return bool(wh.read_table(con, name).limit(1).count().to_pandas())


def period_table(
    con: BaseBackend,
    settings: Settings,
    *,
    period: str = "month",
    by: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
) -> list[dict[str, Any]]:
    """Churn, retention, new/lost/reactivated customers and revenue per period."""
    from retain.metrics import period_metrics

    orders = wh.read_table(con, "orders")
    customers = wh.read_table(con, "customers") if wh.table_exists(con, "customers") else None
    table = period_metrics(
        orders,
        period=period,
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
) -> list[dict[str, Any]]:
    """Cohort retention: one row per (cohort, period_index)."""
    from retain.metrics import cohort_retention

    orders = wh.read_table(con, "orders")
    table = cohort_retention(orders, period=period, kind=kind, mode=mode, tz=settings.time_zone)
    return records(table.order_by(["cohort", "period_index"]).to_pandas())


def mrr_table(con: BaseBackend, *, period: str = "month", tz: str = "UTC") -> list[dict[str, Any]]:
    """Monthly recurring revenue movements from ``subscriptions``."""
    from retain.metrics import mrr_movements

    subs = wh.read_table(con, "subscriptions")
    table = mrr_movements(subs, period=period, tz=tz)
    return records(table.order_by("period_start").to_pandas())


def at_risk_summary(con: BaseBackend, settings: Settings) -> dict[str, Any] | None:
    """Customers scored, how many in each band, and value at risk (sum of p(churn) x CLV).

    :func:`retain.targeting.at_risk_summary` over the configured churn definition; None when
    nothing is scored yet.
    """
    if not has_rows(con, "churn_scores"):
        return None
    tables = frozenset(con.list_tables())
    line = settings.churn_definition()
    summary = targeting.at_risk_summary(con, definition=line.name, tables=tables, line=line)
    rows = records(summary.to_pandas())
    if not rows or not rows[0]["scored"]:
        return None
    return {**rows[0], "definition": line.name}


def overview(con: BaseBackend, settings: Settings) -> dict[str, Any]:
    """Headline numbers with trends; ``missing`` names what is not there yet."""
    out: dict[str, Any] = {"periods": [], "mrr": [], "at_risk": None, "missing": []}
    if has_rows(con, "orders"):
        out["periods"] = period_table(con, settings, period="month")
    else:
        out["missing"].append("orders")
    if has_rows(con, "subscriptions"):
        out["mrr"] = mrr_table(con, period="month", tz=settings.time_zone)
    else:
        out["missing"].append("subscriptions")
    out["at_risk"] = at_risk_summary(con, settings)
    if out["at_risk"] is None:
        out["missing"].append("churn_scores")
    if not has_rows(con, "clv_scores"):
        out["missing"].append("clv_scores")
    return out
