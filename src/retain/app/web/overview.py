"""Dashboard pages for the business at a glance: the overview KPIs and retention with cohorts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from retain.app.auth.roles import Permission
from retain.app.deps import LockedWarehouseDep, Principal, SettingsDep
from retain.app.metrics import service as metrics
from retain.app.web._page import MISSING_COMMANDS
from retain.app.web._page import page as _page
from retain.app.web._session import render, require_page
from retain.app.web._views import kpis, retention_series
from retain.app.web.cohort import BY_NAME, cohort_sections, survival_view
from retain.errors import RetainError
from retain.i18n import t

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def start_page(principal: Principal) -> str:
    """Where a role without the business metrics starts instead of the overview."""
    return "/at-risk" if principal.may(Permission.at_risk_read) else "/docs"


HomePage = Annotated[
    Principal, Depends(require_page(Permission.metrics_read, elsewhere=start_page))
]
"""The logged-in user, if they may read business metrics (else sent to :func:`start_page`)."""
MetricsPage = Annotated[Principal, Depends(require_page(Permission.metrics_read))]
"""The logged-in user, if they may read business metrics (else the 403 page)."""


def _ratio(value: Any) -> float | None:
    return None if value is None else float(value) / 100.0


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COMMANDS = {**MISSING_COMMANDS, "events": "retain ingest events FILE"}
"""The command that loads each missing table (a line may count events)."""


def _date_param(request: Request, name: str) -> str | None:
    """A ``YYYY-MM-DD`` query parameter, None when empty; anything else is a bad picker."""
    value = request.query_params.get(name) or None
    if value is not None and not _DATE.match(value):
        raise RetainError(t("web.bad_picker"), code="parameter.invalid")
    return value


def _line_param(request: Request, settings: Settings) -> str | None:
    """The ``definition`` asked for, when it names a configured line (else a bad picker)."""
    name = request.query_params.get("definition") or None
    if name is not None and name not in {d.name for d in settings.churn}:
        raise RetainError(t("web.bad_picker"), code="parameter.invalid")
    return name


def strict_series(periods: Sequence[dict[str, Any]]) -> list[float | None]:
    """Strict retention per period, newest first (the order of the retention table's rows)."""
    rated = sorted(
        (p for p in periods if (p.get("customers_start") or 0) > 0),
        key=lambda p: str(p["period_start"]),
    )
    return [_ratio(p.get("strict_retention_rate")) for p in reversed(rated)]


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, principal: HomePage, settings: SettingsDep, warehouse: LockedWarehouseDep
) -> HTMLResponse:
    """Headline KPIs of one business line, each with its period, the previous one and a trend.

    ``?definition=`` picks the line (the first configured by default), ``?start=`` and
    ``?end=`` (local dates) the range of months.
    """

    def build() -> HTMLResponse:
        line = _line_param(request, settings)
        start, end = _date_param(request, "start"), _date_param(request, "end")
        data = metrics.overview(warehouse.con, settings, definition=line, start=start, end=end)
        return render(
            request,
            "overview.html",
            principal=principal,
            title_key="web.nav_overview",
            cards=kpis(data, settings.currency),
            line=data["line"],
            line_kind=data["kind"],
            activity=data["activity"],
            lines=data["lines"],
            start=start or "",
            end=end or "",
            missing=data["missing"],
            commands=COMMANDS,
            at_risk=data["at_risk"],
            currency=settings.currency,
        )

    return _page(request, principal, build)


@router.get("/retention", response_class=HTMLResponse)
def retention(
    request: Request, principal: MetricsPage, settings: SettingsDep, warehouse: LockedWarehouseDep
) -> HTMLResponse:
    """Retention over time, cohorts, lifecycle and survival of one business line, by segment.

    Customers count by the line's activity: subscriptions on a contractual line, orders on a
    shop line (``?definition=``, the first configured line by default). ``?by=`` splits by a
    customer column or attribute (an unknown name is an error listing what exists); each logo
    cohort cell links to the customers behind it.
    """
    period = request.query_params.get("period", "month")
    by = request.query_params.get("by") or None
    kind = request.query_params.get("kind", "logo")
    mode = request.query_params.get("mode", "classic")

    def build() -> HTMLResponse:
        if (
            period not in {"week", "month", "quarter"}
            or kind not in {"logo", "revenue"}
            or mode not in {"classic", "unbounded"}
            or (by is not None and not BY_NAME.match(by))
        ):
            raise RetainError(t("web.bad_picker"), code="parameter.invalid")
        line = metrics.line_named(settings, _line_param(request, settings))
        source = metrics.activity_source(line)
        has_orders = metrics.has_rows(warehouse.con, source)
        names = [by] if by else None
        con = warehouse.con
        periods, cohorts, stages = [], [], []
        survival: dict[str, Any] | None = None
        if has_orders:
            periods = metrics.period_table(
                con, settings, period=period, by=names, definition=line.name
            )
            cohorts = metrics.cohort_table(
                con,
                settings,
                period=period,
                kind=kind,  # type: ignore[arg-type]
                mode=mode,  # type: ignore[arg-type]
                definition=line.name,
                by=names,
            )
            stages = metrics.lifecycle_table(
                con, settings, period=period, definition=line.name, by=names
            )
            survival = metrics.survival(
                con,
                settings,
                definition=line.name,
                unit="week" if period == "week" else "month",
                by=by if line.kind != "contractual" else None,
            )
        base = {"period": period, "mode": mode, "definition": line.name}
        return render(
            request,
            "retention.html",
            principal=principal,
            title_key="web.nav_retention",
            period=period,
            by=by,
            by_choices=metrics.by_choices(con),
            kind=kind,
            mode=mode,
            has_orders=has_orders,
            missing_table=source,
            line=line.name,
            lines=[d.name for d in settings.churn],
            activity=source,
            series=retention_series(periods, by),
            strict=None if by else strict_series(periods),
            crr_note=t("metrics.crr_note"),
            sections=cohort_sections(cohorts, by, base),
            lifecycle=lifecycle_view(stages, by),
            survival=survival_view(survival, by if line.kind != "contractual" else None)
            if survival
            else None,
            horizon=line.horizon_days,
            commands=COMMANDS,
            currency=settings.currency,
        )

    return _page(request, principal, build)


def lifecycle_view(stages: Sequence[dict[str, Any]], by: str | None) -> list[dict[str, Any]]:
    """Lifecycle counts per group (the 6 largest): the 12 latest periods, newest first."""
    from retain.metrics import LIFECYCLE_STAGES

    groups: dict[Any, dict[str, dict[str, int]]] = {}
    for row in stages:
        per = groups.setdefault(row.get(by) if by else None, {})
        per.setdefault(str(row["period_start"]), {})[row["stage"]] = int(row["customers"] or 0)
    size = {g: sum(sum(v.values()) for v in per.values()) for g, per in groups.items()}
    out = []
    for group in sorted(groups, key=lambda g: -size[g])[:6]:
        per = groups[group]
        rows = [
            {"period": label, **{s: per[label].get(s, 0) for s in LIFECYCLE_STAGES}}
            for label in sorted(per, reverse=True)[:12]
        ]
        name = None if not by else (t("web.unknown") if group is None else str(group))
        out.append({"group": name, "rows": rows, "stages": LIFECYCLE_STAGES})
    return out
