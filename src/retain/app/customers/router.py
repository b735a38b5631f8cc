"""The at-risk list (filters, sorting, cursor paging, CSV export) and the customer 360."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.customers import at_risk as at_risk_service
from retain.app.customers import service
from retain.app.customers.at_risk import AtRiskFilter
from retain.app.customers.schemas import AtRiskPage, Customer360, CustomerScores, SortKey
from retain.app.deps import (
    CanExport,
    CanReadAtRisk,
    CanReadCustomers,
    Principal,
    SessionDep,
    SettingsDep,
    WarehouseDep,
)
from retain.app.segments import service as segments
from retain.config import Settings
from retain.errors import InvalidParameterError
from retain.i18n import get_language, t

__all__ = ["AtRiskParams", "at_risk_filter", "router"]

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

RiskBand = Literal["high", "medium", "low"]
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]


class AtRiskParams:
    """The at-risk list's query parameters (shared by the list and the export)."""

    def __init__(
        self,
        risk_band: Annotated[list[RiskBand] | None, Query(max_length=3)] = None,
        segment: Annotated[str | None, Query(max_length=200)] = None,
        clv_min: Annotated[float | None, Query(ge=-1e15, le=1e15)] = None,
        clv_max: Annotated[float | None, Query(ge=-1e15, le=1e15)] = None,
        country: Annotated[str | None, Query(max_length=100)] = None,
        channel: Annotated[str | None, Query(max_length=100)] = None,
        definition: Annotated[str | None, Query(max_length=100)] = None,
        sort: SortKey = "at_risk_value",
        order: Literal["asc", "desc"] = "desc",
        limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> None:
        self.risk_band = risk_band or []
        self.segment = segment
        self.clv_min = clv_min
        self.clv_max = clv_max
        self.country = country
        self.channel = channel
        self.definition = definition
        self.sort = sort
        self.order = order
        self.limit = limit
        self.cursor = cursor


def at_risk_filter(params: AtRiskParams, *, settings: Settings, session: Session) -> AtRiskFilter:
    """Turn query parameters (and a saved segment, when named) into a checked filter."""
    if params.limit > settings.service.max_page_size:
        raise InvalidParameterError(
            t("app.page_too_large", limit=params.limit, max=settings.service.max_page_size),
            code="parameter.limit",
        )
    flt = AtRiskFilter(
        definition=params.definition or settings.churn_definition().name,
        risk_bands=tuple(params.risk_band),
        clv_min=params.clv_min,
        clv_max=params.clv_max,
        country=params.country,
        channel=params.channel,
        sort=params.sort,
        descending=params.order == "desc",
        limit=params.limit,
        cursor=params.cursor,
    )
    if params.segment:
        saved = segments.get_by_name_or_id(session, ref=params.segment)
        flt = flt.with_segment(json.loads(saved.filters or "{}"))
    flt.check()
    return flt


@router.get("/at-risk", response_model=AtRiskPage)
def list_at_risk(
    principal: CanReadAtRisk,
    params: Annotated[AtRiskParams, Depends()],
    settings: SettingsDep,
    session: SessionDep,
    warehouse: WarehouseDep,
) -> AtRiskPage:
    """Customers most likely to leave, with why and what they are worth.

    Highest at-risk value first by default. Filter by risk band, saved segment, CLV range,
    country or channel.
    """
    flt = at_risk_filter(params, settings=settings, session=session)
    with warehouse.lock:
        page = at_risk_service.list_at_risk(
            warehouse.con,
            flt,
            pii=principal.may(Permission.customers_pii),
            lang=get_language(),
            tables=warehouse.reads.tables(),
        )
    return AtRiskPage.model_validate(page)


def export_response(
    principal: Principal, flt: AtRiskFilter, *, session: Session, warehouse: WarehouseDep
) -> StreamingResponse:
    """The CSV export of ``flt``, audited (who exported which filter, how many rows)."""
    with warehouse.lock:
        n, chunks = at_risk_service.export_csv(
            warehouse.con,
            flt,
            pii=principal.may(Permission.customers_pii),
            lang=get_language(),
            tables=warehouse.reads.tables(),
        )
    audit.record(
        session,
        actor=principal.name,
        actor_kind=principal.kind,
        action="at_risk.export",
        target_type="at_risk",
        details={
            "rows": n,
            "definition": flt.definition,
            "risk_bands": list(flt.risk_bands),
            "clv_min": flt.clv_min,
            "clv_max": flt.clv_max,
            "country": flt.country,
            "channel": flt.channel,
        },
    )
    session.commit()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="at-risk-{stamp}.csv"'},
    )


@router.get(
    "/at-risk.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}}
)
def export_at_risk(
    principal: CanExport,
    params: Annotated[AtRiskParams, Depends()],
    settings: SettingsDep,
    session: SessionDep,
    warehouse: WarehouseDep,
) -> StreamingResponse:
    """Every customer matching the filters as CSV (bulk export: analysts and admins only)."""
    flt = at_risk_filter(params, settings=settings, session=session)
    return export_response(principal, flt, session=session, warehouse=warehouse)


@router.get("/{customer_id}", response_model=Customer360)
def read_customer(
    customer_id: CustomerId,
    principal: CanReadCustomers,
    warehouse: WarehouseDep,
) -> JSONResponse:
    """Customer 360 with a timeline.

    Profile, orders, events, subscriptions, interactions, scores, reasons and CLV, with
    everything merged into one timeline (newest first).
    """
    with warehouse.lock:
        data = service.customer_360(
            warehouse.reads,
            customer_id,
            pii=principal.may(Permission.customers_pii),
            lang=get_language(),
        )
    # Hot path: the service already returns JSON-ready values, so skip re-validation.
    return JSONResponse(data)


@router.get("/{customer_id}/scores", response_model=CustomerScores)
def read_customer_scores(
    customer_id: CustomerId,
    _: CanReadCustomers,
    warehouse: WarehouseDep,
) -> JSONResponse:
    """The customer's latest churn score per definition (with reasons) and latest CLV."""
    with warehouse.lock:
        data = service.customer_scores(warehouse.reads, customer_id, lang=get_language())
    return JSONResponse(data)
