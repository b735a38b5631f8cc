"""``/api/v1/plan``: the offer plan for a budget (analysts and admins; the CSV is audited).

The plan lists customers across the whole book, so it is for the roles that read metrics, not
for agents (who work their own list); the CSV of every decision is a bulk export, audited with
who asked for which budget and how many rows left.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from retain.app.audit import service as audit
from retain.app.deps import AnalystOnly, CanExport, LockedWarehouseDep, SessionDep, SettingsDep
from retain.app.offers import service
from retain.app.offers.schemas import PlanAnswer
from retain.targeting.export import csv_cell

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["plan"])

Budget = Annotated[float, Query(ge=0, le=1e15, description="Most to spend, reporting currency.")]
Segment = Annotated[
    str | None, Query(max_length=100, description="Only this stored segment, e.g. at_risk.")
]
AsOf = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Plan on the scores known on this date."),
]
Line = Annotated[str | None, Query(max_length=200, description="Business line ([[churn]]).")]


@router.get("/plan", response_model=PlanAnswer)
def read_plan(
    _: AnalystOnly,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    budget: Budget,
    segment: Segment = None,
    as_of: AsOf = None,
    definition: Line = None,
    limit: Annotated[int, Query(ge=0, le=500, description="Rows of each list returned.")] = 100,
) -> PlanAnswer:
    """Whom to give what within ``budget``: totals, the heuristic note, targets, left out."""
    plan = service.make_plan(
        warehouse.con,
        settings,
        budget=budget,
        segment=segment,
        as_of=as_of,
        definition=definition,
    )
    return service.answer(plan, settings.currency, limit=limit)


@router.get(
    "/plan.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}}
)
def export_plan(
    principal: CanExport,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    budget: Budget,
    segment: Segment = None,
    as_of: AsOf = None,
    definition: Line = None,
) -> StreamingResponse:
    """Every customer's decision as CSV, with the uplift source and plan interval on each row.

    Audited.
    """
    plan = service.make_plan(
        warehouse.con,
        settings,
        budget=budget,
        segment=segment,
        as_of=as_of,
        definition=definition,
    )
    frame = plan.decisions.round(6).assign(
        uplift_source="heuristic" if plan.heuristic else "history",
        plan_profit_low=plan.summary.profit_low,
        plan_profit_high=plan.summary.profit_high,
    )
    audit.record(
        session,
        principal,
        "plan.export",
        ("plan", plan.plan_id),
        rows=len(frame),
        budget=budget,
        segment=segment,
    )
    buffer = io.StringIO()
    frame.map(csv_cell).to_csv(buffer, index=False)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        iter([buffer.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{plan.plan_id}-{stamp}.csv"'},
    )
