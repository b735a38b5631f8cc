"""Metrics for the API and the dashboard: the library's metric tables, executed at this edge.

``period_table``, ``cohort_table``, ``lifecycle_table`` and ``survival`` call
:mod:`retain.metrics` with the CLI's parameters; ``overview`` gathers the dashboard's headline
numbers. Each piece reports what is missing instead of failing, so a
partly loaded warehouse still gets a useful overview.

Every figure belongs to a business line (a ``[[churn]]`` section): what makes a customer count
comes from the line (:func:`activity_source`): a contractual line counts customers with a paid
subscription live (on its plans), a non-contractual one customers with a completed order (or
an event, with ``activity = "events"``). A subscription-only business (Telco) thus gets churn
and retention from its subscriptions instead of "no orders yet".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from retain import targeting
from retain import warehouse as wh
from retain.app._frames import records
from retain.app._lines import line_named
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
    "by_choices",
    "cohort_table",
    "customers_table",
    "has_rows",
    "lifecycle_table",
    "line_activity",
    "line_named",
    "metric_inputs",
    "mrr_table",
    "overview",
    "period_table",
    "survival",
]

ActivitySource = Literal["orders", "subscriptions", "events"]
"""The warehouse table whose rows make a customer count in a period."""


def has_rows(con: BaseBackend, name: str) -> bool:
    """Whether warehouse table ``name`` exists and holds at least one row."""
    if not wh.table_exists(con, name):
        return False
    return bool(wh.read_table(con, name).limit(1).count().to_pandas())


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


def customers_table(con: BaseBackend) -> ir.Table | None:
    """The ``customers`` table when it exists (``by`` reads its columns and attributes)."""
    return wh.read_table(con, "customers") if wh.table_exists(con, "customers") else None


BY_COLUMNS = ("country", "language", "acquisition_channel")
"""Customer columns offered to split by (the others are ids, dates, contact details, consent)."""
_SAMPLE = 1000
_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")


def by_choices(con: BaseBackend) -> list[str]:
    """What a ``by`` selector offers: customer columns, then attribute keys in a sample.

    Any other name still works when typed; the library checks it and lists what exists.
    """
    import json

    customers = customers_table(con)
    if customers is None:
        return []
    names = [c for c in BY_COLUMNS if c in customers.columns]
    if "attributes" not in customers.columns:
        return names
    sample = customers.select(a=customers.attributes.cast("string"))
    sample = sample.filter(sample.a.notnull()).limit(_SAMPLE).to_pyarrow()
    keys: set[str] = set()
    for text in sample.column("a").to_pylist():
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            keys.update(k for k, v in value.items() if isinstance(k, str) and v is not None)
    return names + sorted(k for k in keys if k not in names and _KEY.fullmatch(k))


def metric_inputs(
    con: BaseBackend, settings: Settings, definition: str | None
) -> tuple[ir.Table | None, Activity | None]:
    """Orders and activity: completed orders without a line, the line's activity with one."""
    if definition is None:
        return wh.read_table(con, "orders"), None
    return line_activity(con, line_named(settings, definition))


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

    orders, activity = metric_inputs(con, settings, definition)
    customers = customers_table(con)
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
    by: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Cohort retention: one row per (``by`` group,) cohort and period_index.

    Customers count by the line's activity when ``definition`` names one.
    """
    from retain.metrics import cohort_retention

    orders, activity = metric_inputs(con, settings, definition)
    table = cohort_retention(
        orders,
        period=period,
        kind=kind,
        mode=mode,
        activity=activity,
        tz=settings.time_zone,
        customers=customers_table(con) if by else None,
        by=by or None,
    )
    return records(table.to_pandas())


def lifecycle_table(
    con: BaseBackend,
    settings: Settings,
    *,
    period: str = "month",
    definition: str | None = None,
    by: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """New, returning, resurrected, dormant and churned customers per period (and group).

    The line (the first configured when ``definition`` is None) gives the churn horizon; its
    activity makes customers count when it is named.
    """
    from retain.metrics import lifecycle

    orders, activity = metric_inputs(con, settings, definition)
    table = lifecycle(
        orders,
        period=period,
        activity=activity,
        horizon_days=line_named(settings, definition).horizon_days,
        tz=settings.time_zone,
        customers=customers_table(con) if by else None,
        by=by or None,
    )
    return records(table.to_pandas())


def survival(
    con: BaseBackend,
    settings: Settings,
    *,
    definition: str | None = None,
    unit: Literal["day", "week", "month"] = "month",
    by: str | None = None,
    as_of: str | None = None,
) -> dict[str, Any]:
    """Kaplan-Meier curves (95 % bands), median lifetimes and a log-rank test for one line.

    A contractual line's customers churn when their subscription ends (``by`` names a
    subscriptions column, e.g. ``plan``); a shop line's when ``horizon_days`` pass without
    activity, censored when their last activity is within that window before ``as_of`` (``by``
    names a customer column or attribute). Returns ``line``, ``kind``, ``rule`` (the rule in
    the reader's language), ``curves``, ``summary`` and ``logrank`` (None without two groups).
    """
    from retain import metrics

    line = line_named(settings, definition)
    if line.kind == "contractual":
        durations = metrics.subscription_durations(
            _line_subscriptions(con, line), unit=unit, as_of=as_of, by=by
        )
        rule = t("metrics.survival_rule_subscriptions")
    else:
        orders, activity = line_activity(con, line)
        durations = metrics.inactivity_durations(
            orders,
            horizon_days=line.horizon_days,
            activity=activity,
            unit=unit,
            as_of=as_of,
            customers=customers_table(con) if by else None,
            by=by,
        )
        rule = t("metrics.survival_rule_shop", horizon=line.horizon_days)
    counts = durations.to_pandas()
    logrank: dict[str, Any] | None = None
    if counts.empty:
        curves: list[dict[str, Any]] = []
        summary: list[dict[str, Any]] = []
    else:
        curves = records(metrics.kaplan_meier(counts, by=by))
        summary = records(metrics.survival_summary(counts, by=by))
        if by is not None and counts[by].astype("string").fillna("").nunique() > 1:
            test = metrics.logrank_test(counts, by=by)
            logrank = {
                "statistic": test.statistic,
                "p_value": test.p_value,
                "degrees_of_freedom": test.degrees_of_freedom,
                "groups": list(test.groups),
            }
    return {
        "line": line.name,
        "kind": line.kind,
        "unit": unit,
        "by": by,
        "horizon_days": line.horizon_days,
        "rule": rule,
        "curves": curves,
        "summary": summary,
        "logrank": logrank,
    }


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
