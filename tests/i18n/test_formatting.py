"""Localised numbers, money and dates for reports and the dashboard."""

from __future__ import annotations

import datetime as dt

from retain.i18n import format_currency, format_date, format_number, format_percent, language


def test_numbers_and_percentages() -> None:
    assert format_number(1234567, lang="en") == "1,234,567"
    assert format_number(1234567, lang="ja") == "1,234,567"
    assert format_number(3.14159, lang="ko", digits=2) == "3.14"
    assert format_percent(0.1234, lang="en") == "12.3%"


def test_currencies_use_their_own_decimals_and_symbols() -> None:
    assert format_currency(1234.5, "USD", lang="en") == "$1,234.50"
    assert format_currency(1234.5, "JPY", lang="ja") in {"￥1,234", "￥1,235"}
    assert format_currency(1234, "KRW", lang="ko") == "₩1,234"


def test_dates_follow_the_context_language() -> None:
    day = dt.date(2024, 3, 5)
    assert format_date(day, lang="en") == "Mar 5, 2024"
    assert format_date(day, lang="ja") == "2024/03/05"
    with language("ko"):
        assert format_date(day).startswith("2024. 3. 5")
