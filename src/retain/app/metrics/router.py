"""Metrics and cohorts, with the CLI's parameters, and the dashboard's overview numbers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints

from retain.app.auth import caps
from retain.app.deps import (
    AnalystOnly,
    CanExport,
    LockedWarehouseDep,
    SessionDep,
    SettingsDep,
)
from retain.app.metrics import drilldown, service
from retain.app.metrics.schemas import (
    CohortCustomersAnswer,
    CohortsAnswer,
    LifecycleAnswer,
    OverviewAnswer,
    PeriodsAnswer,
    SurvivalAnswer,
)
from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])

Period = Literal["day", "week", "month", "quarter", "year"]
DateText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]
ByName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,64}$")]
LineName = Annotated[
    str | None,
    Query(
        max_length=200,
        description="A business line ([[churn]] section): its activity makes customers count "
        "(subscriptions for a contractual line). Without it, completed orders count.",
    ),
]


@router.get("/periods", response_model=PeriodsAnswer)
def read_periods(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    period: Period = "month",
    by: Annotated[
        list[ByName] | None,
        Query(
            max_length=2,
            description="A column of customers or a key of its attributes; up to two, each "
            "once. A name no customer has is a 422 whose hint lists what exists.",
        ),
    ] = None,
    start: DateText = None,
    end: DateText = None,
    definition: LineName = None,
) -> PeriodsAnswer:
    """Customer and order figures for every period.

    Customers at start and end, new, lost, reactivated, churn rate, CRR, strict retention,
    repeat-purchase rate, frequency, average order value, revenue. CRR = (end - new) / start
    can pass 100 %: it counts customers back after a pause. ``strict_retention_rate`` =
    (start - lost) / start, the start's customers kept to the end, never does.
    """
    rows = service.period_table(
        warehouse.con,
        settings,
        period=period,
        by=by,
        start=start,
        end=end,
        definition=definition,
    )
    return PeriodsAnswer(period=period, data=rows, count=len(rows), note=t("metrics.crr_note"))


ByOne = Annotated[
    ByName | None,
    Query(
        description="A column of customers or a key of its attributes. A name no customer has "
        "is a 422 whose hint lists what exists."
    ),
]
Mode = Literal["classic", "unbounded"]


@router.get("/cohorts", response_model=CohortsAnswer)
def read_cohorts(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    period: Period = "month",
    kind: Literal["logo", "revenue"] = "logo",
    mode: Mode = "classic",
    definition: LineName = None,
    by: ByOne = None,
) -> CohortsAnswer:
    """Cohort retention by acquisition period: logo (customers) or revenue retention.

    With ``by``, each cohort is split by a customer column or attribute.
    """
    names = [by] if by else []
    rows = service.cohort_table(
        warehouse.con,
        settings,
        period=period,
        kind=kind,
        mode=mode,
        definition=definition,
        by=names,
    )
    return CohortsAnswer(period=period, kind=kind, mode=mode, by=names, data=rows, count=len(rows))


CohortDate = Annotated[
    str,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$", description="the cohort's first day, as /cohorts shows it"
    ),
]
PeriodIndex = Annotated[int, Query(ge=0, le=100_000, description="periods since acquisition")]
Group = Annotated[
    str | None,
    Query(max_length=200, description="with by: the group's value; absent: customers without one"),
]


def _cell(
    cohort: CohortDate,
    period_index: PeriodIndex,
    period: Period = "month",
    mode: Mode = "classic",
    definition: LineName = None,
    by: ByOne = None,
    group: Group = None,
) -> drilldown.CohortCell:
    """One cohort cell from the query (the list and its CSV take the same parameters)."""
    return drilldown.CohortCell(
        cohort=cohort,
        period_index=period_index,
        period=period,
        mode=mode,
        definition=definition,
        by=by,
        group=group if by else None,
    )


Cell = Annotated[drilldown.CohortCell, Depends(_cell)]


@router.get("/cohorts/customers", response_model=CohortCustomersAnswer)
def read_cohort_customers(
    principal: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    cell: Cell,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CohortCustomersAnswer:
    """The customers behind one cohort cell, as many as its ``active`` count, paged.

    Classic: the cohort's customers active in period ``period_index``; unbounded: active in it
    or later. ``limit`` is capped by the caller's role (a 422 above the cap).
    """
    cap = caps.max_page_size(settings.service, principal.role)
    if limit > cap:
        raise InvalidParameterError(t("metrics.page_too_large", limit=limit, cap=cap))
    return CohortCustomersAnswer(
        **drilldown.members(warehouse.con, settings, cell, limit=limit, offset=offset)
    )


@router.get(
    "/cohorts/customers.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_cohort_customers(
    principal: CanExport,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    cell: Cell,
) -> StreamingResponse:
    """Every customer of one cohort cell as CSV (bulk export: analysts and admins; audited)."""
    found = drilldown.export(session, warehouse, cell, settings=settings, principal=principal)
    return cohort_csv(found, cell)


def cohort_csv(found: drilldown.CohortExport, cell: drilldown.CohortCell) -> StreamingResponse:
    """An export streamed as a CSV download named for its cell and the moment it was made."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    name = f"cohort-{cell.cohort}-{cell.period_index}-{stamp}.csv"
    return StreamingResponse(
        found.chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/lifecycle", response_model=LifecycleAnswer)
def read_lifecycle(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    period: Period = "month",
    definition: LineName = None,
    by: ByOne = None,
) -> LifecycleAnswer:
    """New, returning, resurrected, dormant and churned customers per period.

    Churned = no activity for the line's ``horizon_days``; ``by`` splits by a customer column or
    attribute.
    """
    names = [by] if by else []
    rows = service.lifecycle_table(
        warehouse.con, settings, period=period, definition=definition, by=names
    )
    horizon = service.line_named(settings, definition).horizon_days
    return LifecycleAnswer(
        period=period, horizon_days=horizon, by=names, data=rows, count=len(rows)
    )


@router.get("/survival", response_model=SurvivalAnswer)
def read_survival(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    definition: LineName = None,
    unit: Literal["day", "week", "month"] = "month",
    by: Annotated[
        ByName | None,
        Query(
            description="Contractual line: a subscriptions column (plan). Shop line: a column "
            "of customers or a key of its attributes (a 422 lists what exists)."
        ),
    ] = None,
    as_of: DateText = None,
) -> SurvivalAnswer:
    """Kaplan-Meier retention curves with 95 % bands, median lifetimes and a log-rank test.

    A subscriber churns when the subscription ends; a shop customer when the line's
    ``horizon_days`` pass without activity (censored when active within them before ``as_of``).
    """
    data = service.survival(
        warehouse.con, settings, definition=definition, unit=unit, by=by, as_of=as_of
    )
    return SurvivalAnswer(**data)


@router.get("/overview", response_model=OverviewAnswer)
def read_overview(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    definition: Annotated[
        str | None,
        Query(max_length=200, description="The business line; the first configured if absent"),
    ] = None,
    start: DateText = None,
    end: DateText = None,
) -> OverviewAnswer:
    """The dashboard's headline numbers for one business line.

    Monthly churn and retention (from subscriptions on a contractual line, from orders on a
    shop line), active customers, MRR, revenue at risk; ``missing`` names the tables not
    loaded yet.
    """
    data = service.overview(warehouse.con, settings, definition=definition, start=start, end=end)
    return OverviewAnswer(**data)
