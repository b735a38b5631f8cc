"""The NPS page: ``/nps``, NPS over time with its interval, by segment, and open follow-ups.

Analysts and admins (the roles that read metrics) see the survey's NPS (each customer's latest
answer once) with its 95 % Wald interval and the answers behind it, the same per period
(``over``: week, month or quarter) as a chart and a table, split by a customer attribute or a
stored segment (``by``: ``country``, ``segment:rfm``...), and the detractors' call-back tasks
not done yet, each linked to the customer 360. The figures are those of
``GET /api/v1/surveys/nps`` and ``retain surveys nps`` (:mod:`retain.voice.nps_report`).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from retain.app.auth.roles import Permission
from retain.app.deps import LockedWarehouseDep, Principal, SessionDep
from retain.app.metrics.service import has_rows
from retain.app.web._charts import line_chart
from retain.app.web._page import page as _page
from retain.app.web._session import render, require_page
from retain.i18n import t
from retain.voice import surveys
from retain.voice.nps_report import COLUMNS, PERIODS, NpsReport, nps_report, parse_since

__all__ = ["BY_CHOICES", "router"]

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require_page(Permission.metrics_read))]

BY_CHOICES: Final = ("country", "acquisition_channel", "segment:rfm", "segment:value_risk")
"""Splits the page offers (any ``customers`` column or ``segment:SCHEME`` is accepted)."""


def _rows(report: NpsReport) -> list[dict[str, Any]]:
    """The report's rows as plain values (None for a figure without answers)."""
    return [
        {str(k): (None if k in COLUMNS and pd.isna(v) else v) for k, v in row.items()}
        for row in report.rows.to_dict("records")
    ]


@router.get("/nps", response_class=HTMLResponse)
def nps_page(
    request: Request,
    principal: Reader,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    survey: Annotated[str, Query(min_length=1, max_length=100)] = "nps",
    by: Annotated[str | None, Query(max_length=100)] = None,
    over: Annotated[str, Query(max_length=10)] = "month",
    since: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """NPS with its interval overall, over time and by group; open detractor follow-ups."""

    def build() -> HTMLResponse:
        start = parse_since(since.strip() or None if since else None)
        split = by.strip() or None if by else None
        overall = trend = groups = None
        chart: Any = ""
        if has_rows(warehouse.con, "interactions"):
            trend = nps_report(warehouse.con, survey=survey, since=start, over=over)
            overall = trend.overall
            points = _rows(trend)
            chart = line_chart(
                [
                    (t("voice_nps.series_nps"), [r["nps"] for r in points]),
                    (t("voice_nps.series_low"), [r["ci_low"] for r in points]),
                    (t("voice_nps.series_high"), [r["ci_high"] for r in points]),
                ],
                [str(r["period"]) for r in points],
                label=t("voice_nps.chart_label", survey=survey),
                y_format="{:.0f}",
            )
            trend_rows = points
            if split is not None:
                groups = _rows(nps_report(warehouse.con, survey=survey, since=start, by=split))
        else:
            trend_rows = []
        followups = surveys.open_followups(session)
        return render(
            request,
            "nps.html",
            principal=principal,
            title_key="voice_nps.page_title",
            survey=survey,
            by=split or "",
            over=over,
            since=start.date().isoformat() if start is not None else "",
            periods=list(PERIODS),
            by_choices=BY_CHOICES,
            overall=overall,
            chart=chart,
            trend=trend_rows,
            groups=groups,
            followups=followups,
        )

    return _page(request, principal, build)
