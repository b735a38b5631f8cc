"""Metrics and cohorts, with the CLI's parameters, and the dashboard's overview numbers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from retain.app.deps import AnalystOnly, LockedWarehouseDep, SettingsDep
from retain.app.metrics import service
from retain.app.metrics.schemas import CohortsAnswer, OverviewAnswer, PeriodsAnswer

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])

Period = Literal["day", "week", "month", "quarter", "year"]
DateText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]


@router.get("/periods", response_model=PeriodsAnswer)
def read_periods(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    period: Period = "month",
    by: Annotated[
        list[Literal["country", "acquisition_channel", "language"]] | None, Query(max_length=2)
    ] = None,
    start: DateText = None,
    end: DateText = None,
) -> PeriodsAnswer:
    """Customer and order figures for every period.

    Customers at start and end, new, lost, reactivated, churn and retention rate,
    repeat-purchase rate, frequency, average order value, revenue.
    """
    rows = service.period_table(warehouse.con, settings, period=period, by=by, start=start, end=end)
    return PeriodsAnswer(period=period, data=rows, count=len(rows))


@router.get("/cohorts", response_model=CohortsAnswer)
def read_cohorts(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    period: Period = "month",
    kind: Literal["logo", "revenue"] = "logo",
    mode: Literal["classic", "unbounded"] = "classic",
) -> CohortsAnswer:
    """Cohort retention by acquisition period: logo (customers) or revenue retention."""
    rows = service.cohort_table(warehouse.con, settings, period=period, kind=kind, mode=mode)
    return CohortsAnswer(period=period, kind=kind, mode=mode, data=rows, count=len(rows))


@router.get("/overview", response_model=OverviewAnswer)
def read_overview(
    _: AnalystOnly, settings: SettingsDep, warehouse: LockedWarehouseDep
) -> OverviewAnswer:
    """The dashboard's headline numbers.

    Monthly churn and retention, active customers, MRR,
    revenue at risk; ``missing`` names the tables not loaded yet.
    """
    return OverviewAnswer(**service.overview(warehouse.con, settings))
