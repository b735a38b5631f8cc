"""One self-contained HTML report: every section, Plotly's JavaScript inlined once, no network.

:func:`render_report` lays out the sections that :func:`retain.report.contents.build_report`
collects. The file opens offline: no CDN, no external font or stylesheet.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from plotly.offline import get_plotlyjs

from retain.i18n import format_date, format_number, language, t
from retain.report.section import Figure, Section

__all__ = ["cell_text", "render_report"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",
"Noto Sans KR","Malgun Gothic",sans-serif;margin:0;color:#1d2b36;background:#f6f8fa}
header{background:#264653;color:#fff;padding:24px 40px}header h1{margin:0 0 4px}
nav{padding:8px 40px;background:#fff;border-bottom:1px solid #dde3e8}
nav a{margin-right:16px;color:#264653;text-decoration:none}
main{padding:16px 40px;max-width:1200px}section{background:#fff;border:1px solid #dde3e8;
border-radius:6px;padding:16px 24px;margin:16px 0}.summary{color:#44525e}
.reading{font-weight:600;margin:8px 0 4px}figure{margin:12px 0}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #dde3e8;padding:4px 10px;
text-align:right}th{background:#eef2f5}td:first-child,th:first-child{text-align:left}
footer{padding:16px 40px;color:#66737e;font-size:13px}
"""


def cell_text(value: Any) -> str:
    """One table cell in the current locale: ``7,043`` not ``7,043.00``, ``0.841``, dates.

    Whole numbers show no decimals, numbers below 10 three, larger ones two; missing values
    read ``-``. Text is shown as it is.
    """
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return format_number(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isinf(number):
            return "∞" if number > 0 else "-∞"
        if number.is_integer() and abs(number) < 1e15:
            return format_number(int(number))
        return format_number(number, digits=3 if abs(number) < 10 else 2)
    if isinstance(value, pd.Timestamp | dt.date):
        return format_date(value)
    if value is pd.NaT:
        return "-"
    return str(value)


def _table_html(table: pd.DataFrame) -> str:
    shown = table.map(cell_text) if len(table) else table
    return shown.to_html(index=False, escape=True, border=0, na_rep="-")


def _figure_html(item: Figure, index: int) -> str:
    parts = [
        f'<figure id="fig-{index}"><h3>{html.escape(item.title)}</h3>',
        f'<p class="reading">{html.escape(item.reading)}</p>',
    ]
    if item.figure is not None:
        parts.append(
            item.figure.to_html(
                full_html=False,
                include_plotlyjs=False,
                config={"displaylogo": False, "responsive": True},
            )
        )
    if item.table is not None:
        parts.append(_table_html(item.table))
    parts.append("</figure>")
    return "\n".join(parts)


def render_report(sections: Sequence[Section], *, title: str, lang: str = "en") -> str:
    """The report as one HTML document (UTF-8 text) with Plotly's JavaScript embedded once.

    Parameters
    ----------
    sections
        What to show, in order; each item's reading is printed above its chart or table.
    title
        The document title.
    lang
        Language of the frame's text (``en``, ``ja``, ``ko``); the sections carry their own.
    """
    with language(lang) as code:
        nav = " ".join(
            f'<a href="#{html.escape(s.key)}">{html.escape(s.title)}</a>' for s in sections
        )
        body: list[str] = []
        counter = 0
        for section in sections:
            body.append(
                f'<section id="{html.escape(section.key)}"><h2>{html.escape(section.title)}</h2>'
            )
            if section.summary:
                body.append(f'<p class="summary">{html.escape(section.summary)}</p>')
            for item in section.items:
                counter += 1
                body.append(_figure_html(item, counter))
            body.append("</section>")
        generated = t("report.generated", date=format_date(dt.datetime.now(dt.UTC).date()))
        return "\n".join(
            [
                "<!DOCTYPE html>",
                f'<html lang="{code}"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{html.escape(title)}</title><style>{_CSS}</style>",
                f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>',
                f"<header><h1>{html.escape(title)}</h1><div>{html.escape(generated)}</div></header>",
                f"<nav>{nav}</nav><main>",
                *body,
                f"</main><footer>{html.escape(t('report.footer'))}</footer></body></html>",
            ]
        )
