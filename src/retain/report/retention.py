"""The retention sections of ``retain report``: KPIs, retention, cohorts, lifecycle, MRR, survival.

:func:`report_sections` reads the warehouse, runs the metrics of :mod:`retain.metrics` and
returns :class:`~retain.report.section.Section` objects, each item with a one-line reading in
the current language. A business with orders only (CDNOW) gets no MRR or survival section; one
with subscriptions only (Telco) counts activity as an active subscription. A section whose data
is absent says so instead of disappearing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pandas as pd

from retain import metrics
from retain.i18n import format_currency, format_number, format_percent, t
from retain.report import charts
from retain.report.section import Figure, Section
from retain.warehouse import table_exists

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["report_sections"]


def _table(con: BaseBackend, name: str) -> ir.Table | None:
    """The table if it exists and has rows, else ``None``."""
    if not table_exists(con, name):
        return None
    table = con.table(name)
    if int(table.count().to_pandas()) == 0:
        return None
    return table


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else format_percent(value / 100)


def _month(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m")


def report_sections(con: BaseBackend, settings: Settings) -> list[Section]:
    """Every retention section for ``con``, in ``settings``' time zone and churn horizon."""
    orders = _table(con, "orders")
    subscriptions = _table(con, "subscriptions")
    tz = settings.time_zone
    horizon = settings.churn_definition().horizon_days
    currency = settings.currency
    activity = None
    if orders is None and subscriptions is not None:
        activity = metrics.subscription_activity(subscriptions)
    sections: list[Section] = []
    if orders is None and activity is None:
        sections.append(
            Section("retention", t("report.retention_section"), t("report.no_activity"))
        )
    else:
        periods = metrics.period_metrics(orders, activity=activity, tz=tz).to_pandas()
        sections.append(_kpis(periods, currency, activity is not None))
        sections.append(_retention(periods))
        sections.append(_cohorts(orders, activity, tz, currency))
        stages = metrics.lifecycle(
            orders, activity=activity, tz=tz, horizon_days=horizon
        ).to_pandas()
        sections.append(_lifecycle(stages, horizon))
    if orders is not None:
        buyers = metrics.inactivity_durations(orders, horizon_days=horizon).to_pandas()
        if int(buyers["n"].sum()) > 0:
            sections.append(_buyer_survival(buyers, horizon))
    if subscriptions is None:
        sections.append(
            Section("subscriptions", t("report.mrr_section"), t("report.no_subscriptions"))
        )
    else:
        sections.append(_mrr(metrics.mrr_movements(subscriptions, tz=tz).to_pandas(), currency))
        sections.append(_survival(subscriptions))
    return sections


def _kpis(periods: pd.DataFrame, currency: str, by_subscription: bool) -> Section:
    done = periods[periods.customers_start > 0]
    last = done.iloc[-1] if len(done) else periods.iloc[-1]
    rows = [
        (t("report.kpi_period"), _month(last.period_start)),
        (t("report.kpi_customers"), format_number(int(last.customers_end))),
        (t("report.kpi_new"), format_number(int(last.new_customers))),
        (t("report.kpi_lost"), format_number(int(last.lost_customers))),
        (t("report.churn_rate"), _pct(last.churn_rate)),
        (t("report.retention_rate"), _pct(last.retention_rate)),
        (t("report.strict_retention_rate"), _pct(last.strict_retention_rate)),
    ]
    if not by_subscription:
        rows += [
            (t("report.kpi_revenue"), format_currency(float(last.revenue), currency)),
            (
                t("report.kpi_aov"),
                format_currency(float(last.average_order_value or 0.0), currency),
            ),
            (t("report.kpi_repeat"), _pct(last.repeat_purchase_rate)),
        ]
    table = pd.DataFrame(rows, columns=[t("report.kpi_measure"), t("report.kpi_value")])
    reading = t(
        "report.kpi_reading",
        period=_month(last.period_start),
        customers=format_number(int(last.customers_end)),
        churn=_pct(last.churn_rate),
        retention=_pct(last.retention_rate),
        strict=_pct(last.strict_retention_rate),
    )
    return Section(
        "kpis", t("report.kpi_section"), "", [Figure(t("report.kpi_title"), reading, table=table)]
    )


def _retention(periods: pd.DataFrame) -> Section:
    rated = periods.dropna(subset=["churn_rate"])
    if rated.empty:
        reading = t("report.retention_one_period")
    else:
        mean = float(rated.churn_rate.mean())
        worst = rated.loc[rated.churn_rate.idxmax()]  # type: ignore[call-overload]
        reading = t(
            "report.retention_reading",
            mean=_pct(mean),
            worst=_month(worst.period_start),
            worst_rate=_pct(float(worst.churn_rate)),
        )
    fig = charts.plot_retention(periods)
    return Section(
        "retention",
        t("report.retention_section"),
        t("report.retention_summary"),
        [Figure(t("report.retention_title"), reading, figure=fig)],
    )


def _cohorts(orders: ir.Table | None, activity: Any, tz: str, currency: str) -> Section:
    logo = metrics.cohort_retention(orders, activity=activity, tz=tz).to_pandas()
    items = [
        Figure(
            t("report.cohort_logo_title"),
            _logo_reading(logo),
            figure=charts.plot_cohort_heatmap(logo, kind="logo"),
        )
    ]
    if orders is not None:
        revenue = metrics.cohort_retention(orders, kind="revenue", tz=tz).to_pandas()
        items.append(
            Figure(
                t("report.cohort_revenue_title"),
                _revenue_reading(revenue, currency),
                figure=charts.plot_cohort_heatmap(revenue, kind="revenue"),
            )
        )
    summary = t("report.cohort_summary")
    if orders is None:
        summary += " " + t("report.no_revenue_cohorts")
    return Section("cohorts", t("report.cohort_section"), summary, items)


def _logo_reading(logo: pd.DataFrame) -> str:
    first_month = logo[logo.period_index == 1]
    if first_month.empty:
        return t("report.cohort_too_short")
    best = first_month.loc[first_month.value.idxmax()]  # type: ignore[call-overload]
    worst = first_month.loc[first_month.value.idxmin()]  # type: ignore[call-overload]
    return t(
        "report.cohort_logo_reading",
        first=_month(first_month.cohort.iloc[0]),
        first_rate=_pct(float(first_month.value.iloc[0])),
        last=_month(first_month.cohort.iloc[-1]),
        last_rate=_pct(float(first_month.value.iloc[-1])),
        best=_month(best.cohort),
        best_rate=_pct(float(best.value)),
        worst=_month(worst.cohort),
    )


def _revenue_reading(revenue: pd.DataFrame, currency: str) -> str:
    last = revenue.sort_values("period_index").groupby("cohort").tail(1)
    top = last.loc[last.cumulative_revenue_per_customer.idxmax()]  # type: ignore[call-overload]
    kept = revenue.assign(kept=charts.revenue_retention(revenue))
    month1 = kept[kept.period_index == 1].dropna(subset=["kept"])
    best = month1.loc[month1.kept.idxmax()] if len(month1) else None  # type: ignore[call-overload]
    return t(
        "report.cohort_revenue_reading",
        mean=_pct(float(month1.kept.mean())) if len(month1) else "-",
        best=_month(best.cohort) if best is not None else "-",
        best_rate=_pct(float(best.kept)) if best is not None else "-",
        cohort=_month(top.cohort),
        value=format_currency(float(top.cumulative_revenue_per_customer), currency),
        periods=format_number(int(top.period_index) + 1),
    )


def _lifecycle(stages: pd.DataFrame, horizon: int) -> Section:
    last = stages[stages.period_start == stages.period_start.max()].set_index("stage").customers
    total = int(last.sum())
    reading = t(
        "report.lifecycle_reading",
        period=_month(stages.period_start.max()),
        total=format_number(total),
        active=format_number(int(last["new"] + last["returning"] + last["resurrected"])),
        churned=format_number(int(last["churned"])),
        dormant=format_number(int(last["dormant"])),
        horizon=horizon,
    )
    return Section(
        "lifecycle",
        t("report.lifecycle_section"),
        t("report.lifecycle_summary", horizon=horizon),
        [Figure(t("report.lifecycle_title"), reading, figure=charts.plot_lifecycle(stages))],
    )


def _mrr(mrr: pd.DataFrame, currency: str) -> Section:
    if mrr.empty:
        return Section("subscriptions", t("report.mrr_section"), t("report.no_subscriptions"))
    last = mrr.iloc[-1]
    rated = mrr.dropna(subset=["net_revenue_retention"])
    reading = t(
        "report.mrr_reading",
        period=_month(last.period_start),
        mrr=format_currency(float(last.mrr), currency),
        net=format_currency(float(last.net_new_mrr), currency),
        nrr=_pct(float(rated.net_revenue_retention.mean())) if len(rated) else "-",
        grr=_pct(float(rated.gross_revenue_retention.mean())) if len(rated) else "-",
    )
    columns = [
        "period_start",
        "mrr",
        "new_mrr",
        "expansion_mrr",
        "contraction_mrr",
        "churned_mrr",
        "reactivation_mrr",
        "logo_churn_rate",
        "gross_revenue_retention",
        "net_revenue_retention",
    ]
    table = mrr[columns].tail(12).copy()
    table["period_start"] = table.period_start.map(_month)
    table = table.rename(columns={c: t(f"report.{c}") for c in columns})
    return Section(
        "subscriptions",
        t("report.mrr_section"),
        t("report.mrr_summary"),
        [
            Figure(t("report.mrr_title"), reading, figure=charts.plot_mrr_movements(mrr)),
            Figure(
                t("report.mrr_table_title"), t("report.mrr_table_reading"), table=table.round(2)
            ),
        ],
    )


def _survival(subscriptions: ir.Table) -> Section:
    """How long subscriptions run, by plan when there are several."""
    has_plan = "plan" in subscriptions.columns
    durations = metrics.subscription_durations(subscriptions, by="plan" if has_plan else None)
    counts = durations.to_pandas()
    by = "plan" if has_plan and counts.plan.nunique() > 1 else None
    return _survival_section(
        counts,
        by,
        "survival",
        t("report.survival_section"),
        t("report.survival_summary"),
        "report.survival_single",
        "report.survival_table_reading",
    )


def _buyer_survival(counts: pd.DataFrame, horizon: int) -> Section:
    """How long buyers stay before the line's inactivity rule calls them churned."""
    return _survival_section(
        counts,
        None,
        "survival_buyers",
        t("report.survival_buyers_section"),
        t("report.survival_buyers_summary", days=format_number(horizon)),
        "report.survival_buyers_single",
        "report.survival_buyers_table_reading",
    )


def _survival_section(
    counts: pd.DataFrame,
    by: str | None,
    key: str,
    title: str,
    summary_text: str,
    single: str,
    table_reading: str,
) -> Section:
    """Kaplan-Meier curves and their table from duration counts (``duration, observed, n``)."""
    curves = metrics.kaplan_meier(counts, by=by)
    summary = metrics.survival_summary(counts, by=by)
    if by is not None:
        test = metrics.logrank_test(counts, by=by)
        verdict = "report.survival_differ" if test.p_value < 0.05 else "report.survival_same"
        p_text = (
            "< " + format_number(0.001, digits=3)
            if test.p_value < 0.001
            else "= " + format_number(test.p_value, digits=3)
        )
        reading = t(verdict, by=by, p=p_text, stat=format_number(test.statistic, digits=1))
    else:
        median = float(summary.median_lifetime.iloc[0])
        reading = t(single, median="-" if math.isinf(median) else format_number(median, digits=1))
    table = summary.rename(
        columns={
            "plan": t("report.plan"),
            "customers": t("report.axis_customers"),
            "churned": t("report.stage_churned"),
            "median_lifetime": t("report.median_lifetime"),
        }
    )
    return Section(
        key,
        title,
        summary_text,
        [
            Figure(t("report.survival_title"), reading, figure=charts.plot_survival(curves, by=by)),
            Figure(t("report.survival_table_title"), t(table_reading), table=table),
        ],
    )
