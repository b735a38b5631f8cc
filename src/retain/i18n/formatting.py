"""Localised numbers, percentages, currencies and dates (Babel), for reports and the dashboard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel import dates, numbers

__all__ = ["format_currency", "format_date", "format_datetime", "format_number", "format_percent"]

_LOCALES = {"en": "en_US", "ja": "ja_JP", "ko": "ko_KR"}


def _locale(lang: str | None) -> str:
    from retain.i18n import get_language, normalize_language

    code = normalize_language(lang) if lang else get_language()
    return _LOCALES[code]


def format_number(value: float | int | Decimal, *, lang: str | None = None, digits: int = 0) -> str:
    """``12,345`` in every supported locale (Japanese and Korean group by thousands too)."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(value, format=pattern, locale=_locale(lang))


def format_percent(value: float, *, lang: str | None = None, digits: int = 1) -> str:
    """A ratio (0.123) as a percentage (``12.3%``)."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return numbers.format_percent(value, format=pattern, locale=_locale(lang))


def format_currency(
    value: float | int | Decimal, currency: str = "USD", *, lang: str | None = None
) -> str:
    """``$1,234.50``, ``￥1,235``, ``₩1,235`` with the currency's own decimals."""
    return numbers.format_currency(value, currency, locale=_locale(lang))


def format_date(value: dt.date | dt.datetime, *, lang: str | None = None) -> str:
    """Medium date: ``Mar 5, 2024`` / ``2024/03/05`` / ``2024. 3. 5.``."""
    return dates.format_date(value, format="medium", locale=_locale(lang))


def format_datetime(value: dt.datetime, *, lang: str | None = None, tz: str | None = None) -> str:
    """Medium date and time in zone ``tz`` (default: the value's own zone)."""
    zone = dates.get_timezone(tz) if tz else None
    return dates.format_datetime(value, format="medium", tzinfo=zone, locale=_locale(lang))
