"""Dashboard pages about customers: the at-risk list, its CSV, saved segments, customer 360."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from retain import warehouse as wh
from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.customers import at_risk as at_risk_service
from retain.app.customers import service as customers
from retain.app.customers.router import AtRiskParams, at_risk_filter, export_response
from retain.app.deps import SessionDep, SettingsDep, WarehouseDep
from retain.app.metrics import service as metrics
from retain.app.segments import service as segments
from retain.app.web._page import MISSING_COMMANDS
from retain.app.web._page import allow as _allow
from retain.app.web._page import page as _page
from retain.app.web._session import PageUser, render
from retain.errors import PermissionDeniedError, RetainError
from retain.i18n import get_language, t

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _blank_none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _page_params(request: Request) -> AtRiskParams:
    q = request.query_params

    def number(name: str) -> float | None:
        raw = _blank_none(q.get(name))
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            raise RetainError(
                t("web.bad_number", name=name, value=raw), code="parameter.invalid"
            ) from None

    bands = [b for b in q.getlist("risk_band") if b]
    limit_raw = _blank_none(q.get("limit")) or "50"
    return AtRiskParams(
        risk_band=bands,  # type: ignore[arg-type]
        segment=_blank_none(q.get("segment")),  # type: ignore[arg-type]
        clv_min=number("clv_min"),
        clv_max=number("clv_max"),
        country=_blank_none(q.get("country")),
        channel=_blank_none(q.get("channel")),
        sort=q.get("sort", "at_risk_value"),  # type: ignore[arg-type]
        order="asc" if q.get("order") == "asc" else "desc",
        limit=int(limit_raw) if limit_raw.isdigit() else 50,
        cursor=_blank_none(q.get("cursor")),
    )


@router.get("/at-risk", response_class=HTMLResponse)
def at_risk(
    request: Request,
    principal: PageUser,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: WarehouseDep,
) -> HTMLResponse:
    """The at-risk list with filters, reasons, CLV and links to each customer."""

    def build() -> HTMLResponse:
        _allow(principal, Permission.at_risk_read)
        params = _page_params(request)
        saved = segments.list_all(session) if principal.may(Permission.segments_read) else []
        with warehouse.lock:
            has_scores = wh.table_exists(warehouse.con, "churn_scores") and metrics._has_rows(
                warehouse.con, "churn_scores"
            )
            page = None
            if has_scores:
                flt = at_risk_filter(params, settings=settings, session=session)
                page = at_risk_service.list_at_risk(
                    warehouse.con,
                    flt,
                    pii=principal.may(Permission.customers_pii),
                    lang=get_language(),
                    tables=warehouse.reads.tables(),
                )
        query = {k: v for k, v in request.query_params.multi_items() if k not in {"cursor", "lang"}}
        next_link = None
        if page and page["next_cursor"]:
            next_link = "/at-risk?" + urlencode([*query.items(), ("cursor", page["next_cursor"])])
        return render(
            request,
            "at_risk.html",
            principal=principal,
            title_key="web.nav_at_risk",
            params=params,
            page=page,
            saved=saved,
            has_scores=has_scores,
            next_link=next_link,
            export_query=urlencode(list(query.items())),
            can_export=principal.may(Permission.export),
            can_save=principal.may(Permission.segments_write),
            commands=MISSING_COMMANDS,
            currency=settings.currency,
        )

    return _page(request, principal, build)


@router.get("/at-risk.csv", response_model=None)
def at_risk_csv(
    request: Request,
    principal: PageUser,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: WarehouseDep,
) -> Response:
    """The filtered at-risk list as CSV (analysts and admins)."""

    def build() -> Any:
        _allow(principal, Permission.export)
        flt = at_risk_filter(_page_params(request), settings=settings, session=session)
        return export_response(principal, flt, session=session, warehouse=warehouse)

    return _page(request, principal, build)


@router.post("/at-risk/segments", response_model=None)
def save_segment(
    request: Request,
    principal: PageUser,
    session: SessionDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    csrf: Annotated[str, Form(max_length=500)] = "",
    filters: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Save the current filters as a named segment (form with CSRF token)."""
    from urllib.parse import parse_qs

    def build() -> Any:
        _allow(principal, Permission.segments_write)
        if csrf != principal.csrf_token:
            raise PermissionDeniedError(t("web.csrf_expired"), code="auth.csrf_failed")
        q = parse_qs(filters)

        def first_float(key: str) -> float | None:
            try:
                return float(q[key][0]) if q.get(key) and q[key][0] else None
            except ValueError:
                return None

        stored = {
            k: v
            for k, v in {
                "risk_bands": [b for b in q.get("risk_band", []) if b in {"high", "medium", "low"}],
                "clv_min": first_float("clv_min"),
                "clv_max": first_float("clv_max"),
                "country": (q.get("country") or [""])[0] or None,
                "channel": (q.get("channel") or [""])[0] or None,
            }.items()
            if v not in (None, [])
        }
        segment = segments.create(
            session, name=name.strip(), description="", filters=stored, created_by=principal.name
        )
        audit.record(
            session,
            actor=principal.name,
            actor_kind=principal.kind,
            action="segment.create",
            target_type="segment",
            target_id=str(segment.id),
            details={"name": segment.name},
        )
        session.commit()
        return RedirectResponse("/at-risk?" + urlencode({"segment": segment.name}), status_code=303)

    return _page(request, principal, build)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer(
    request: Request,
    principal: PageUser,
    customer_id: Annotated[str, Path(min_length=1, max_length=200)],
    settings: SettingsDep,
    warehouse: WarehouseDep,
) -> HTMLResponse:
    """Customer 360 with the timeline."""

    def build() -> HTMLResponse:
        _allow(principal, Permission.customers_read)
        with warehouse.lock:
            data = customers.customer_360(
                warehouse.reads,
                customer_id,
                pii=principal.may(Permission.customers_pii),
                lang=get_language(),
            )
        return render(
            request,
            "customer.html",
            principal=principal,
            title_key="web.customer_title",
            c=data,
            currency=settings.currency,
        )

    return _page(request, principal, build)
