"""The Jinja2 environment of the dashboard: templates, translation and localized formatting."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from retain.app.web._charts import heat_color, line_chart, sparkline
from retain.i18n import (
    LANGUAGES,
    format_currency,
    format_date,
    format_number,
    format_percent,
    get_language,
    t,
)

__all__ = ["environment", "fmt_date"]

LANGUAGE_NAMES = {"en": "English", "ja": "日本語", "ko": "한국어"}


def fmt_date(value: Any) -> str:
    """ISO text or a datetime as a medium date in the page language; '' for missing values."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return format_date(value)
    return str(value)


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A ratio as a localized percentage; '–' when missing."""
    return "–" if value is None else format_percent(float(value), digits=digits)


def fmt_num(value: Any, digits: int = 0) -> str:
    """A localized number; '–' when missing."""
    return "–" if value is None else format_number(float(value), digits=digits)


def fmt_money(value: Any, currency: str | None = None, default: str = "USD") -> str:
    """A localized amount of money; '–' when missing."""
    if value is None:
        return "–"
    return format_currency(float(value), currency or default)


@cache
def environment() -> Environment:
    """The dashboard's template environment (built once per process)."""
    folder = resources.files("retain.app.web") / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        t=t,
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        current_language=get_language,
        fmt_date=fmt_date,
        fmt_pct=fmt_pct,
        fmt_num=fmt_num,
        fmt_money=fmt_money,
        heat_color=heat_color,
        line_chart=line_chart,
        sparkline=sparkline,
    )
    return env
