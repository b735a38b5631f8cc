"""Shaping metric tables into what the dashboard's pages show (cards, series, heatmap grid).

The library's rates are percentages (0-100); the dashboard formats ratios, so they are divided
by 100 here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from retain.app.web._render import fmt_date, fmt_money, fmt_num, fmt_pct
from retain.i18n import format_date, get_language, t

__all__ = ["cohort_grid", "kpis", "retention_series"]

TREND = 12


def _ratio(value: Any) -> float | None:
    return None if value is None else float(value) / 100.0


def _complete(periods: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Periods with customers at start (the first period has none to churn)."""
    return [p for p in periods if (p.get("customers_start") or 0) > 0]


def _change(value: float | None, previous: float | None, kind: str) -> tuple[str, str]:
    """The change from ``previous`` to ``value`` as text, and its direction (up/down/flat).

    Rates change in percentage points; counts and money in percent of the previous value.
    """
    if value is None or previous is None:
        return "", "flat"
    delta = float(value) - float(previous)
    way = "up" if delta > 0 else "down" if delta < 0 else "flat"
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    if kind == "pct":
        return t("web.change_points", change=sign + fmt_num(abs(delta) * 100, 1)), way
    if not previous:
        return "", way
    return sign + fmt_pct(abs(delta) / abs(float(previous))), way


def _fmt(value: Any, kind: str, currency: str | None) -> str:
    if kind == "pct":
        return fmt_pct(value)
    if kind == "money":
        return fmt_money(value, currency)
    return fmt_num(value)


def _card(
    key: str,
    label: str,
    kind: str,
    rows: Sequence[dict[str, Any]],
    get: Callable[[dict[str, Any]], Any],
    currency: str | None,
) -> dict[str, Any]:
    """One card from periodic rows (oldest first): the last period, the one before, the trend.

    ``definition`` is the hover text; ``axis`` the trend's lowest and highest values and its
    first and last periods, printed beside the sparkline.
    """
    last, prev = rows[-1], (rows[-2] if len(rows) > 1 else None)
    value, previous = get(last), (get(prev) if prev else None)
    change, way = _change(value, previous, kind)
    trend_rows = rows[-TREND:]
    trend = [get(r) for r in trend_rows]
    known = [v for v in trend if v is not None]
    return {
        "key": key,
        "label": label,
        "definition": t(f"web.def_{key}"),
        "value": value,
        "kind": kind,
        "text": _fmt(value, kind, currency),
        "period": _month_label(str(last.get("period_start"))),
        "period_text": t("web.kpi_period", period=_month_label(str(last.get("period_start")))),
        "when": fmt_date(last.get("period_start")),
        "previous": previous,
        "previous_text": _fmt(previous, kind, currency) if prev else "",
        "previous_period": _month_label(str(prev.get("period_start"))) if prev else "",
        "change": change,
        "direction": way,
        "trend": trend,
        "axis": {
            "low": _fmt(min(known), kind, currency) if known else "",
            "high": _fmt(max(known), kind, currency) if known else "",
            "first": _month_label(str(trend_rows[0].get("period_start"))),
            "last": _month_label(str(trend_rows[-1].get("period_start"))),
        },
        "note": None,
        "detail": None,
    }


def kpis(data: dict[str, Any], currency: str | None = None) -> list[dict[str, Any]]:
    """The overview's cards, each for one period with the previous one, change and trend.

    Churn, CRR (with why it can pass 100 %), strict retention and active customers from the
    line's periods; MRR and NRR from its subscriptions; revenue at risk from its scores.
    """
    cards: list[dict[str, Any]] = []
    periods = _complete(data["periods"])
    if periods:
        cards.append(
            _card(
                "churn_rate",
                t("web.kpi_churn_rate"),
                "pct",
                periods,
                lambda p: _ratio(p.get("churn_rate")),
                currency,
            )
        )
        crr = _card(
            "retention_rate",
            t("web.kpi_crr"),
            "pct",
            periods,
            lambda p: _ratio(p.get("retention_rate")),
            currency,
        )
        cards.append({**crr, "detail": t("metrics.crr_note")})
        cards.append(
            _card(
                "strict_retention_rate",
                t("metrics.strict_retention"),
                "pct",
                periods,
                lambda p: _ratio(p.get("strict_retention_rate")),
                currency,
            )
        )
        cards.append(
            _card(
                "active",
                t("web.kpi_active"),
                "num",
                periods,
                lambda p: p.get("customers_end"),
                currency,
            )
        )
    mrr = [m for m in data["mrr"] if m.get("mrr") is not None]
    if mrr:
        cards.append(_card("mrr", t("web.kpi_mrr"), "money", mrr, lambda m: m.get("mrr"), currency))
        nrr = [m for m in mrr if m.get("net_revenue_retention") is not None]
        if nrr:
            cards.append(
                _card(
                    "nrr",
                    t("web.kpi_nrr"),
                    "pct",
                    nrr,
                    lambda m: _ratio(m.get("net_revenue_retention")),
                    currency,
                )
            )
    risk = data.get("at_risk")
    if risk:
        value = risk.get("at_risk_value")
        cards.append(
            {
                "key": "at_risk",
                "label": t("web.kpi_at_risk_revenue"),
                "definition": t("web.def_at_risk"),
                "value": value,
                "kind": "money",
                "text": _fmt(value, "money", currency),
                "period": fmt_date(risk.get("as_of")),
                "period_text": t("web.as_of", date=fmt_date(risk.get("as_of"))),
                "when": fmt_date(risk.get("as_of")),
                "previous": None,
                "previous_text": "",
                "previous_period": "",
                "change": "",
                "direction": "flat",
                "trend": [],
                "axis": None,
                "detail": None,
                "note": t(
                    "web.kpi_at_risk_note",
                    high=fmt_num(risk.get("high") or 0),
                    scored=fmt_num(risk.get("scored") or 0),
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
