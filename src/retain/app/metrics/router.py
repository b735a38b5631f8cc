"""Metrics and cohorts, with the CLI's parameters, and the dashboard's overview numbers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from retain.app.deps import AnalystOnly, LockedWarehouseDep, SettingsDep
from retain.app.metrics import service
from retain.app.metrics.schemas import CohortsAnswer, OverviewAnswer, PeriodsAnswer
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


@router.get("/cohorts", response_model=CohortsAnswer)
def read_cohorts(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    period: Period = "month",
    kind: Literal["logo", "revenue"] = "logo",
    mode: Literal["classic", "unbounded"] = "classic",
    definition: LineName = None,
) -> CohortsAnswer:
    """Cohort retention by acquisition period: logo (customers) or revenue retention."""
    rows = service.cohort_table(
        warehouse.con, settings, period=period, kind=kind, mode=mode, definition=definition
    )
    return CohortsAnswer(period=period, kind=kind, mode=mode, data=rows, count=len(rows))


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
