"""The at-risk list (filters, sorting, cursor paging, CSV export) and the customer 360.

Handlers check the caller's permission, call :mod:`retain.app.customers.at_risk` or
:mod:`retain.app.customers.service` (which call :mod:`retain.targeting`), and return the body.

The busiest routes are coroutines that run their work in one worker thread: FastAPI would run
a plain route in a worker thread and then check its return value in a second trip to the pool,
and each trip costs a request about 0.3 ms of CPU (a tenth of what the read costs).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from retain.app._openapi import document_errors
from retain.app.customers import access, at_risk, service
from retain.app.customers.schemas import AtRiskPage, Customer360, CustomerScores
from retain.app.deps import (
    CanExport,
    CanReadAtRisk,
    CanReadCustomers,
    LockedWarehouseDep,
    Principal,
    SessionDep,
    SettingsDep,
)
from retain.i18n import get_language
from retain.targeting import RISK_BANDS, AtRiskExport, RiskBand, SortKey
from retain.targeting.query import (
    DEFAULT_LIMIT,
    MAX_ABS_VALUE,
    MAX_LIMIT,
    MAX_TENURE_DAYS,
    MAX_TEXT_LENGTH,
    Order,
)

__all__ = ["AtRiskParams", "csv_response", "router"]

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

CustomerId = Annotated[str, Path(min_length=1, max_length=200)]
"""A customer id as the path's tail: ids may contain ``/`` (``{customer_id:path}`` routes)."""
_Value = Annotated[float | None, Query(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]
_Days = Annotated[int | None, Query(ge=0, le=MAX_TENURE_DAYS)]


def _text(name: str) -> Any:
    return Query(max_length=MAX_TEXT_LENGTH[name])


class AtRiskParams:
    """The at-risk list's query parameters, as the API documents them (list and export).

    Only a declaration: :attr:`values` go to :meth:`retain.targeting.AtRiskQuery.from_params`,
    which checks them (:func:`retain.app.customers.at_risk.resolve`).
    """

    def __init__(
        self,
        risk_band: Annotated[list[RiskBand] | None, Query(max_length=len(RISK_BANDS))] = None,
        segment: Annotated[str | None, _text("segment")] = None,
        clv_min: _Value = None,
        clv_max: _Value = None,
        country: Annotated[str | None, _text("country")] = None,
        channel: Annotated[str | None, _text("channel")] = None,
        search: Annotated[str | None, _text("search")] = None,
        reason: Annotated[str | None, _text("reason")] = None,
        plan: Annotated[str | None, _text("plan")] = None,
        tenure_min: _Days = None,
        tenure_max: _Days = None,
        definition: Annotated[str | None, _text("definition")] = None,
        sort: SortKey = "at_risk_value",
        order: Order = "desc",
        limit: Annotated[
            int | None,
            Query(
                ge=1,
                le=MAX_LIMIT,
                description=f"Rows per page: {DEFAULT_LIMIT} or the role's cap when smaller "
                "(service.max_page_size_by_role); above the cap is a 422",
            ),
        ] = None,
        cursor: Annotated[str | None, _text("cursor")] = None,
    ) -> None:
        self.values: dict[str, Any] = {
            "risk_band": risk_band or [],
            "segment": segment,
            "clv_min": clv_min,
            "clv_max": clv_max,
            "country": country,
            "channel": channel,
            "search": search,
            "reason": reason,
            "plan": plan,
            "tenure_min": tenure_min,
            "tenure_max": tenure_max,
            "definition": definition,
            "sort": sort,
            "order": order,
            "cursor": cursor,
        }
        if limit is not None:  # absent: the query's default, or the caller's cap when smaller
            self.values["limit"] = limit


Params = Annotated[AtRiskParams, Depends()]


@router.get("/at-risk", response_model=AtRiskPage)
async def list_at_risk(
    principal: CanReadAtRisk,
    params: Params,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
) -> AtRiskPage:
    """Customers most likely to leave, with why and what they are worth.

    The latest scoring run of one business line (``definition``, default: the first
    configured), without customers who have already churned, in the high and medium bands
    unless ``risk_band`` says otherwise. Highest at-risk value first by default (probability
    where the value is unknown). Filter by risk band, saved segment, CLV range, country (any
    letter case), channel, reason (family or key), plan, tenure in days, or search by id or
    e-mail (e-mail only for roles that see contact details).
    """
    return await run_in_threadpool(
        at_risk.list_page, session, warehouse, params.values, settings=settings, principal=principal
    )


def csv_response(export: AtRiskExport) -> StreamingResponse:
    """An export streamed as a CSV download named for the moment it was made."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        export.chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="at-risk-{stamp}.csv"'},
    )


@router.get(
    "/at-risk.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}}
)
def export_at_risk(
    principal: CanExport,
    params: Params,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
) -> StreamingResponse:
    """Every customer matching the filters as CSV (bulk export: analysts and admins only)."""
    return csv_response(
        at_risk.export(session, warehouse, params.values, settings=settings, principal=principal)
    )


def _scores(
    session: Session, principal: Principal, reads: Any, customer_id: str, lang: str
) -> dict[str, Any]:
    access.check_customer(session, principal, customer_id)
    return service.customer_scores(reads, customer_id, lang=lang)


def _read(
    session: Session, principal: Principal, reads: Any, customer_id: str, lang: str
) -> dict[str, Any]:
    access.check_customer(session, principal, customer_id)
    return service.read_customer(session, reads, customer_id, principal=principal, lang=lang)


@router.get("/{customer_id:path}/scores", response_model=CustomerScores)
async def read_customer_scores(
    customer_id: CustomerId,
    principal: CanReadCustomers,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
) -> dict[str, Any]:
    """The customer's latest churn score per definition (with reasons) and latest CLV.

    An agent reads only the customers in their save-desk queue (others: 404, as if absent).
    """
    return await run_in_threadpool(
        _scores, session, principal, warehouse.reads, customer_id, get_language()
    )


@router.get("/{customer_id:path}", response_model=Customer360)
async def read_customer(
    customer_id: CustomerId,
    principal: CanReadCustomers,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
) -> dict[str, Any]:
    """Customer 360 with a timeline.

    Profile, orders, events, subscriptions, interactions, scores, reasons and CLV, with
    everything merged into one timeline (newest first). A read that returns the customer's
    contact details is audited (``customer.read``). An agent reads only the customers in their
    save-desk queue (others: 404, as if absent).
    """
    return await run_in_threadpool(
        _read, session, principal, warehouse.reads, customer_id, get_language()
    )


document_errors(router)
