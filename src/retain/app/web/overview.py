"""Dashboard pages for the business at a glance: the overview KPIs and retention with cohorts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from retain.app.auth.roles import Permission
from retain.app.deps import LockedWarehouseDep, Principal, SettingsDep
from retain.app.metrics import service as metrics
from retain.app.web._page import MISSING_COMMANDS
from retain.app.web._page import page as _page
from retain.app.web._session import render, require_page
from retain.app.web._views import cohort_grid, kpis, retention_series
from retain.errors import RetainError
from retain.i18n import t

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


def with_strict_retention(
    cards: list[dict[str, Any]], periods: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The overview's cards with a strict retention card after CRR, and CRR's note.

    CRR can pass 100 % (customers back after a pause count); the strict rate, the start's
    customers kept to the end, cannot. Both are read from the same periods as the other cards.
    """
    rated = [p for p in periods if (p.get("customers_start") or 0) > 0]
    out: list[dict[str, Any]] = []
    for card in cards:
        if card["key"] != "retention_rate" or not rated:
            out.append(card)
            continue
        out.append({**card, "note": t("metrics.crr_note")})
        out.append(
            {
                **card,
                "key": "strict_retention_rate",
                "label": t("metrics.strict_retention"),
                "value": _ratio(rated[-1].get("strict_retention_rate")),
                "trend": [
                    _ratio(p.get("strict_retention_rate")) for p in rated[-len(card["trend"]) :]
                ],
                "note": None,
            }
        )
    return out


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
    """Headline KPIs with trends."""

    def build() -> HTMLResponse:
        data = metrics.overview(warehouse.con, settings)
        return render(
            request,
            "overview.html",
            principal=principal,
            title_key="web.nav_overview",
            cards=with_strict_retention(kpis(data), data["periods"]),
            missing=data["missing"],
            commands=MISSING_COMMANDS,
            at_risk=data["at_risk"],
            currency=settings.currency,
        )

    return _page(request, principal, build)


@router.get("/retention", response_class=HTMLResponse)
def retention(
    request: Request, principal: MetricsPage, settings: SettingsDep, warehouse: LockedWarehouseDep
) -> HTMLResponse:
    """Retention over time (optionally by segment) and the cohort heatmap."""
    period = request.query_params.get("period", "month")
    by = request.query_params.get("by") or None
    kind = request.query_params.get("kind", "logo")
    mode = request.query_params.get("mode", "classic")

    def build() -> HTMLResponse:
        if (
            period not in {"week", "month", "quarter"}
            or kind not in {"logo", "revenue"}
            or mode not in {"classic", "unbounded"}
            or by not in {None, "country", "acquisition_channel"}
        ):
            raise RetainError(t("web.bad_picker"), code="parameter.invalid")
        has_orders = metrics.has_rows(warehouse.con, "orders")
        periods = (
            metrics.period_table(warehouse.con, settings, period=period, by=[by] if by else None)
            if has_orders
            else []
        )
        cohorts = (
            metrics.cohort_table(
                warehouse.con,
                settings,
                period=period,
                kind=kind,  # type: ignore[arg-type]
                mode=mode,  # type: ignore[arg-type]
            )
            if has_orders
            else []
        )
        return render(
            request,
            "retention.html",
            principal=principal,
            title_key="web.nav_retention",
            period=period,
            by=by,
            kind=kind,
            mode=mode,
            has_orders=has_orders,
            series=retention_series(periods, by),
            strict=None if by else strict_series(periods),
            crr_note=t("metrics.crr_note"),
            grid=cohort_grid(cohorts),
            commands=MISSING_COMMANDS,
            currency=settings.currency,
        )

    return _page(request, principal, build)
