"""Shaping metric tables into what the dashboard's pages show (cards, series, heatmap grid).

The library's rates are percentages (0-100); the dashboard formats ratios, so they are divided
by 100 here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retain.app.web._render import fmt_date
from retain.i18n import format_date, get_language, t

__all__ = ["cohort_grid", "kpis", "retention_series"]

TREND = 12


def _ratio(value: Any) -> float | None:
    return None if value is None else float(value) / 100.0


def _complete(periods: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Periods with customers at start (the first period has none to churn)."""
    return [p for p in periods if (p.get("customers_start") or 0) > 0]


def kpis(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The overview's cards: label, value, period, and a trend (list of numbers)."""
    cards: list[dict[str, Any]] = []
    periods = _complete(data["periods"])
    if periods:
        last = periods[-1]
        when = fmt_date(last.get("period_start"))
        trend = periods[-TREND:]
        cards.append(
            {
                "key": "churn_rate",
                "label": t("web.kpi_churn_rate"),
                "value": _ratio(last.get("churn_rate")),
                "kind": "pct",
                "when": when,
                "trend": [_ratio(p.get("churn_rate")) for p in trend],
            }
        )
        cards.append(
            {
                "key": "retention_rate",
                "label": t("web.kpi_crr"),
                "value": _ratio(last.get("retention_rate")),
                "kind": "pct",
                "when": when,
                "trend": [_ratio(p.get("retention_rate")) for p in trend],
            }
        )
        cards.append(
            {
                "key": "active",
                "label": t("web.kpi_active"),
                "value": last.get("customers_end"),
                "kind": "num",
                "when": when,
                "trend": [p.get("customers_end") for p in trend],
            }
        )
    mrr = [m for m in data["mrr"] if m.get("mrr") is not None]
    if mrr:
        last = mrr[-1]
        when = fmt_date(last.get("period_start"))
        trend = mrr[-TREND:]
        cards.append(
            {
                "key": "mrr",
                "label": t("web.kpi_mrr"),
                "value": last.get("mrr"),
                "kind": "money",
                "when": when,
                "trend": [m.get("mrr") for m in trend],
            }
        )
        nrr = [m for m in mrr if m.get("net_revenue_retention") is not None]
        if nrr:
            cards.append(
                {
                    "key": "nrr",
                    "label": t("web.kpi_nrr"),
                    "value": _ratio(nrr[-1].get("net_revenue_retention")),
                    "kind": "pct",
                    "when": fmt_date(nrr[-1].get("period_start")),
                    "trend": [_ratio(m.get("net_revenue_retention")) for m in nrr[-TREND:]],
                }
            )
    risk = data.get("at_risk")
    if risk:
        cards.append(
            {
                "key": "at_risk",
                "label": t("web.kpi_at_risk_revenue"),
                "value": risk.get("at_risk_value"),
                "kind": "money",
                "when": fmt_date(risk.get("as_of")),
                "trend": [],
                "note": t(
                    "web.kpi_at_risk_note",
                    high=risk.get("high") or 0,
                    scored=risk.get("scored") or 0,
                ),
            }
        )
    return cards


def retention_series(periods: Sequence[dict[str, Any]], by: str | None) -> dict[str, Any]:
    """Retention rate per period, one line per segment (the 6 largest) or one overall line."""
    rows = _complete(periods)
    labels = sorted({str(p["period_start"]) for p in rows})
    if not labels:
        return {"labels": [], "lines": [], "rows": []}
    if by:
        sizes: dict[str, float] = {}
        for p in rows:
            sizes[str(p.get(by))] = sizes.get(str(p.get(by)), 0) + (p.get("customers_end") or 0)
        groups = sorted(sizes, key=lambda g: -sizes[g])[:6]
    else:
        groups = ["__all__"]
    lines = []
    for group in groups:
        values = {
            str(p["period_start"]): _ratio(p.get("retention_rate"))
            for p in rows
            if not by or str(p.get(by)) == group
        }
        name = (
            t("web.all_customers")
            if group == "__all__"
            else (group if group != "None" else t("web.unknown"))
        )
        lines.append((name, [values.get(label) for label in labels]))
    pretty = [_month_label(label) for label in labels]
    table = [
        {"period": pretty[i], **{name: vals[i] for name, vals in lines}} for i in range(len(labels))
    ]
    return {"labels": pretty, "lines": lines, "rows": table[::-1]}


_LOCALES = {"en": "en_US", "ja": "ja_JP", "ko": "ko_KR"}


def _month_label(value: str) -> str:
    """``Mar 2024`` / ``2024年3月`` / ``2024년 3월`` for a period start."""
    import datetime as dt

    from babel.dates import format_skeleton

    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.day != 1:
        return format_date(when)
    return str(format_skeleton("yMMM", when, locale=_LOCALES[get_language()]))


def cohort_grid(cohorts: Sequence[dict[str, Any]], max_periods: int = 13) -> dict[str, Any]:
    """Cohorts as rows, periods since acquisition as columns, values as ratios (logo) or money."""
    if not cohorts:
        return {"cohorts": [], "periods": [], "cells": {}}
    periods = sorted({int(c["period_index"]) for c in cohorts if c["period_index"] is not None})
    periods = [p for p in periods if p < max_periods]
    rows: dict[str, dict[str, Any]] = {}
    for c in cohorts:
        key = str(c["cohort"])
        row = rows.setdefault(
            key, {"label": _month_label(key), "size": c.get("cohort_size"), "values": {}}
        )
        if c["period_index"] is not None and int(c["period_index"]) < max_periods:
            row["values"][int(c["period_index"])] = c.get("value")
    ordered = [rows[k] for k in sorted(rows)][-24:]
    return {"cohorts": ordered, "periods": periods}
