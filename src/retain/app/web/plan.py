"""The plan page: ``/plan?budget=B[&segment=S]``, whom to give what with this budget.

Analysts and admins (the roles that read metrics) type a budget and, optionally, a stored
segment; the page shows the summary every output prints (with the uplift source: the
no-history heuristic says so), the customers to contact with their action and expected profit,
and the customers left out with their reason, each linked to their customer 360. The CSV of
every decision is the audited ``/api/v1/plan.csv``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from retain.app.auth.roles import Permission
from retain.app.deps import LockedWarehouseDep, Principal, SettingsDep
from retain.app.offers import service
from retain.app.web._page import page as _page
from retain.app.web._session import render, require_page
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.targeting.offers import reason_label, summary_lines

__all__ = ["SHOWN", "router"]

router = APIRouter(include_in_schema=False)

SHOWN = 200
"""Rows of each list on the page (the CSV has every customer)."""

Planner = Annotated[Principal, Depends(require_page(Permission.metrics_read))]


def _budget(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise InvalidParameterError(
            t("offers.bad_budget", value=text), hint=t("offers.bad_budget_hint")
        )
    return value


def _rows(frame: Any) -> list[dict[str, Any]]:
    rows = frame.head(SHOWN).to_dict("records")
    for row in rows:
        row["reason_label"] = reason_label(str(row["reason"]))
    return list(rows)


@router.get("/plan", response_class=HTMLResponse)
def plan_page(
    request: Request,
    principal: Planner,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    budget: str | None = None,
    segment: str | None = None,
) -> HTMLResponse:
    """The form, and the plan once a budget is given."""

    def build() -> HTMLResponse:
        amount = _budget(budget)
        chosen = segment.strip() if segment and segment.strip() else None
        context: dict[str, Any] = {"budget": budget or "", "segment": chosen or ""}
        if amount is not None:
            plan = service.make_plan(
                warehouse.con,
                settings,
                budget=amount,
                segment=chosen,
                as_of=None,
                definition=None,
            )
            decisions = plan.decisions
            params = {"budget": amount, **({"segment": chosen} if chosen else {})}
            context.update(
                plan=plan,
                lines=summary_lines(plan, settings.currency),
                targets=_rows(decisions[decisions["status"] == "target"]),
                left_out=_rows(decisions[decisions["status"] != "target"]),
                csv_link="/api/v1/plan.csv?" + urlencode(params),
                can_export=principal.may(Permission.export),
            )
        return render(
            request,
            "plan.html",
            principal=principal,
            title_key="offers.page_title",
            currency=settings.currency,
            **context,
        )

    return _page(request, principal, build)
