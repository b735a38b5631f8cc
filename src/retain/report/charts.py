"""Charts of the retention metrics: ``plot_*`` functions returning Plotly figures.

Each takes the output of the matching :mod:`retain.metrics` function, as an Ibis table (it is
executed) or a pandas frame, so the same chart works in a notebook and in ``retain report``.
Labels go through :func:`retain.i18n.t`, in the current language.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from retain.i18n import t

__all__ = [
    "plot_cohort_heatmap",
    "plot_lifecycle",
    "plot_mrr_movements",
    "plot_retention",
    "plot_survival",
    "revenue_retention",
]

_COLORS = {
    "new": "#2a9d8f",
    "returning": "#264653",
    "resurrected": "#e9c46a",
    "dormant": "#f4a261",
    "churned": "#e76f51",
}


def _frame(data: ir.Table | pd.DataFrame) -> pd.DataFrame:
    return data.to_pandas() if isinstance(data, ir.Table) else data


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        template="plotly_white",
        margin={"l": 60, "r": 30, "t": 60, "b": 50},
        legend={"orientation": "h", "y": -0.2},
        height=420,
    )
    return fig


def plot_retention(periods: ir.Table | pd.DataFrame) -> go.Figure:
    """Customers per period (bars) with churn rate and retention rate (lines, percent)."""
    frame = _frame(periods)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(
        x=frame.period_start,
        y=frame.customers_end,
        name=t("report.axis_customers"),
        marker_color="#cfd8dc",
        secondary_y=True,
    )
    fig.add_scatter(
        x=frame.period_start,
        y=frame.retention_rate,
        name=t("report.retention_rate"),
        mode="lines+markers",
        line={"color": "#264653"},
    )
    fig.add_scatter(
        x=frame.period_start,
        y=frame.churn_rate,
        name=t("report.churn_rate"),
        mode="lines+markers",
        line={"color": "#e76f51"},
    )
    fig.update_yaxes(title_text=t("report.axis_percent"), secondary_y=False)
    fig.update_yaxes(title_text=t("report.axis_customers"), secondary_y=True, showgrid=False)
    return _layout(fig, t("report.retention_title"))


def revenue_retention(frame: pd.DataFrame) -> pd.Series:
    """Each cohort's revenue in period k as a percent of its revenue in period 0 (NaN if none)."""
    first = frame[frame.period_index == 0].set_index("cohort").revenue.astype(float)
    base = frame.cohort.map(first).where(lambda v: v > 0)
    return frame.revenue.astype(float) / base * 100


def plot_cohort_heatmap(
    cohorts: ir.Table | pd.DataFrame, *, kind: str = "logo", value: str | None = None
) -> go.Figure:
    """Cohort x period-index heatmap in percent, every cohort and every period labelled.

    ``logo``: the share of the cohort active; ``revenue``: revenue retention, the cohort's
    revenue in each period as a percent of its first period's. ``value`` names another column
    to show instead (then not in percent).
    """
    frame = _frame(cohorts).copy()
    if value is None:
        column = "value" if kind == "logo" else "_revenue_retention"
        if kind != "logo":
            frame[column] = revenue_retention(frame)
    else:
        column = value
    grid = frame.pivot(index="cohort", columns="period_index", values=column)
    labels = [pd.Timestamp(c).strftime("%Y-%m-%d") for c in grid.index]
    columns = [str(c) for c in grid.columns]
    percent = value is None
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=columns,
            y=labels,
            colorscale="Blues" if kind == "logo" else "Greens",
            zmin=0 if percent else None,
            zmax=100 if percent else None,
            # past 24 periods the numbers no longer fit their cells: the hover shows them
            texttemplate="" if len(columns) > 24 else ("%{z:.0f}" if percent else "%{z:,.2f}"),
            hovertemplate=(
                f"{t('report.axis_cohort')}: %{{y}}<br>{t('report.axis_period_index')}: %{{x}}"
                + ("<br>%{z:.1f}%<extra></extra>" if percent else "<br>%{z:,.2f}<extra></extra>")
            ),
            hoverongaps=False,
            colorbar={
                "title": {"text": t("report.axis_percent") if percent else column},
                "ticksuffix": "%" if percent else "",
            },
        )
    )
    fig.update_yaxes(
        autorange="reversed",
        title_text=t("report.axis_cohort"),
        type="category",
        tickmode="array",
        tickvals=labels,
    )
    fig.update_xaxes(
        title_text=t("report.axis_period_index"),
        type="category",
        tickmode="array",
        tickvals=columns,
    )
    title = t("report.cohort_logo_title") if kind == "logo" else t("report.cohort_revenue_title")
    _layout(fig, title)
    fig.update_layout(height=max(420, 140 + 24 * len(labels)))
    return fig


def plot_lifecycle(stages: ir.Table | pd.DataFrame) -> go.Figure:
    """Stacked bars per period of every stage's customers (all counts, none below zero)."""
    frame = _frame(stages)
    fig = go.Figure()
    for stage in ("new", "returning", "resurrected", "dormant", "churned"):
        part = frame[frame.stage == stage]
        fig.add_bar(
            x=part.period_start,
            y=part.customers,
            name=t(f"report.stage_{stage}"),
            marker_color=_COLORS[stage],
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=t("report.axis_customers"), rangemode="nonnegative")
    return _layout(fig, t("report.lifecycle_title"))


def plot_mrr_movements(mrr: ir.Table | pd.DataFrame) -> go.Figure:
    """MRR movements per period (bars) and MRR at period end (line)."""
    frame = _frame(mrr)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    colors = {
        "new_mrr": "#2a9d8f",
        "expansion_mrr": "#8ab17d",
        "reactivation_mrr": "#e9c46a",
        "contraction_mrr": "#f4a261",
        "churned_mrr": "#e76f51",
    }
    for column, color in colors.items():
        fig.add_bar(
            x=frame.period_start,
            y=frame[column],
            name=t(f"report.{column}"),
            marker_color=color,
            secondary_y=False,
        )
    fig.add_scatter(
        x=frame.period_start,
        y=frame.mrr,
        name=t("report.mrr"),
        mode="lines+markers",
        line={"color": "#264653"},
        secondary_y=True,
    )
    fig.update_layout(barmode="relative")
    fig.update_yaxes(title_text=t("report.axis_movement"), secondary_y=False)
    fig.update_yaxes(title_text=t("report.mrr"), secondary_y=True, showgrid=False)
    return _layout(fig, t("report.mrr_title"))


def plot_survival(curves: pd.DataFrame, *, by: str | None = None, unit: str = "month") -> go.Figure:
    """Kaplan-Meier curves (steps) with their confidence bands, one per segment."""
    fig = go.Figure()
    groups: list[tuple[Any, pd.DataFrame]] = (
        list(curves.groupby(by, sort=True)) if by else [(t("report.everyone"), curves)]
    )
    palette = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#8ab17d"]
    for i, (name, part) in enumerate(groups):
        color = palette[i % len(palette)]
        label = str(name[0] if isinstance(name, tuple) else name)
        fig.add_scatter(
            x=list(part.timeline) + list(part.timeline[::-1]),
            y=list(part.ci_upper) + list(part.ci_lower[::-1]),
            fill="toself",
            line={"width": 0, "shape": "hv"},
            fillcolor=color,
            opacity=0.15,
            hoverinfo="skip",
            showlegend=False,
        )
        fig.add_scatter(
            x=part.timeline,
            y=part.survival,
            name=label,
            mode="lines",
            line={"shape": "hv", "color": color},
        )
    fig.update_yaxes(title_text=t("report.axis_survival"), range=[0, 1.02], tickformat=".0%")
    fig.update_xaxes(title_text=t(f"report.axis_tenure_{unit}"))
    return _layout(fig, t("report.survival_title"))
