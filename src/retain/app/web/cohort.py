"""The retention page's cohort drill-down and survival views.

A logo cell of the cohort heatmap links to ``/retention/cohort``: the customers of that cohort
active in that period (or in it or later, unbounded), each linked to their customer 360, paged,
with a CSV export audited like the at-risk export (:mod:`retain.app.metrics.drilldown` decides
who is listed, so the page counts exactly what the cell counts). :func:`survival_view` and
:func:`cohort_sections` shape the library's tables for the retention page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from retain.app.auth.roles import Permission
from retain.app.deps import LockedWarehouseDep, Principal, SessionDep, SettingsDep
from retain.app.metrics import drilldown
from retain.app.metrics.router import cohort_csv
from retain.app.web._page import page as _page
from retain.app.web._session import render, require_page
from retain.app.web._views import cohort_grid
from retain.errors import RetainError
from retain.i18n import t

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = ["BY_NAME", "PAGE_SIZE", "cohort_sections", "router", "survival_view"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Customers per page of the drill-down list."""
BY_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
"""What a ``by`` name may look like (the library then checks that it exists)."""
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PERIODS = {"week", "month", "quarter"}

MetricsPage = Annotated[Principal, Depends(require_page(Permission.metrics_read))]
Exporter = Annotated[Principal, Depends(require_page(Permission.export))]


def _bad() -> RetainError:
    return RetainError(t("web.bad_picker"), code="parameter.invalid")


def _cell(request: Request, settings: Settings) -> drilldown.CohortCell:
    """The cohort cell the query names; anything malformed is a bad picker (400)."""
    q = request.query_params
    cohort, index = q.get("cohort", ""), q.get("period_index", "")
    period, mode = q.get("period", "month"), q.get("mode", "classic")
    line = q.get("definition") or None
    by = q.get("by") or None
    if (
        not _DATE.match(cohort)
        or not index.isdigit()
        or len(index) > 6
        or period not in _PERIODS
        or mode not in {"classic", "unbounded"}
        or (line is not None and line not in {d.name for d in settings.churn})
        or (by is not None and not BY_NAME.match(by))
        or len(q.get("group", "")) > 200
    ):
        raise _bad()
    return drilldown.CohortCell(
        cohort=cohort,
        period_index=int(index),
        period=period,
        mode=mode,  # type: ignore[arg-type]  # checked above
        definition=line,
        by=by,
        group=q.get("group") if by else None,
    )


@router.get("/retention/cohort", response_class=HTMLResponse)
def cohort_page(
    request: Request, principal: MetricsPage, settings: SettingsDep, warehouse: LockedWarehouseDep
) -> HTMLResponse:
    """The customers behind one cohort cell, each linked to their 360, 50 to a page."""

    def build() -> HTMLResponse:
        cell = _cell(request, settings)
        raw = request.query_params.get("page", "1")
        if not raw.isdigit() or not 0 < int(raw) < 1_000_000:
            raise _bad()
        number = int(raw)
        found = drilldown.members(
            warehouse.con,
            settings,
            cell,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )
        pages = max(1, -(-found["total"] // PAGE_SIZE))
        query = urlencode(cell.params())
        return render(
            request,
            "cohort.html",
            principal=principal,
            title_key="web.cohort_customers_title",
            cell=cell,
            cohort_label=cohort_grid([{"cohort": cell.cohort, "period_index": 0}])["cohorts"][0][
                "label"
            ],
            total=found["total"],
            rows=found["data"],
            page_number=number,
            pages=pages,
            cell_query=query,
            back_query=urlencode(
                {
                    k: v
                    for k, v in cell.params().items()
                    if k in {"period", "mode", "definition", "by"}
                }
            ),
            can_export=principal.may(Permission.export),
        )

    return _page(request, principal, build)


@router.get("/retention/cohort.csv", response_model=None)
def cohort_export(
    request: Request,
    principal: Exporter,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
) -> Response:
    """The cell's customers as CSV (analysts and admins), audited as ``cohort.export``."""

    def build() -> Any:
        cell = _cell(request, settings)
        found = drilldown.export(session, warehouse, cell, settings=settings, principal=principal)
        return cohort_csv(found, cell)

    return _page(request, principal, build)


def cohort_sections(
    cohorts: Sequence[dict[str, Any]], by: str | None, base: dict[str, Any]
) -> list[dict[str, Any]]:
    """One heatmap per ``by`` group (one in all without ``by``), each row with its cell links.

    ``base`` holds the link's period, mode and line; a row's ``links`` map a period offset to
    the drill-down URL of that cell.
    """
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for row in cohorts:
        groups.setdefault(row.get(by) if by else None, []).append(row)
    sections = []
    for group in sorted(groups, key=lambda g: (g is None, str(g))):
        rows = groups[group]
        grid = cohort_grid(rows)
        keys = sorted({str(r["cohort"])[:10] for r in rows})[-len(grid["cohorts"]) :]
        for key, line in zip(keys, grid["cohorts"], strict=True):
            params = {**base, "cohort": key}
            if by:
                params["by"] = by
                if group is not None:
                    params["group"] = group
            line["links"] = {
                p: "/retention/cohort?" + urlencode({**params, "period_index": p})
                for p in grid["periods"]
            }
        name = None if not by else (t("web.unknown") if group is None else str(group))
        sections.append({"group": name, "grid": grid})
    return sections


def survival_view(data: dict[str, Any], by: str | None) -> dict[str, Any]:
    """Kaplan-Meier curves as chart lines (survival as a ratio, a step at each time) + summary."""
    curves = data["curves"]
    times = sorted({float(r["timeline"]) for r in curves})
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in curves:
        key = t("web.all_customers") if not by else _name(r.get(by))
        groups.setdefault(key, []).append(r)
    lines = []
    for name, rows in list(groups.items())[:6]:
        ordered = sorted(rows, key=lambda r: float(r["timeline"]))
        values: list[float | None] = []
        i, current = 0, 1.0
        for time in times:
            while i < len(ordered) and float(ordered[i]["timeline"]) <= time:
                current = float(ordered[i]["survival"])
                i += 1
            values.append(current)
        lines.append((name, values))
    summary = [
        {
            "group": t("web.all_customers") if not by else _name(s.get(by)),
            "customers": s["customers"],
            "churned": s["churned"],
            "median": s["median_lifetime"],
        }
        for s in data["summary"]
    ]
    return {
        "labels": [f"{time:g}" for time in times],
        "lines": lines,
        "summary": summary,
        "rule": data["rule"],
        "unit": data["unit"],
        "logrank": data["logrank"],
    }


def _name(value: Any) -> str:
    return t("web.unknown") if value is None or value == "" else str(value)
