"""The uplift page: ``/uplift[?campaign=ID]``, whom past randomized campaigns really changed.

For analysts and admins. It shows the stored evaluation (``uplift_evaluations``, computed by
``retain uplift evaluate --store`` and the demo pipeline, never at page load) of the newest
campaign or the one picked: the measured effect per arm, the Qini curves of targeting by
predicted uplift, by highest churn risk and at random, Qini and AUUC with 95 % intervals, and
the measured uplift per decile of the prediction. The same data is ``/api/v1/uplift/...``.

Every uplift is shown in its outcome's unit: a revenue campaign's as money in the reporting
currency (revenue per customer), a rate's (retention, conversion) as a difference of shares,
in percentage points, as the report does (:mod:`retain.report.uplift`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from retain.app.auth.roles import Permission
from retain.app.deps import LockedWarehouseDep, Principal, SettingsDep
from retain.app.uplift import service
from retain.app.web._page import page as _page
from retain.app.web._render import fmt_money
from retain.app.web._session import render, require_page
from retain.i18n import t

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Analyst = Annotated[Principal, Depends(require_page(Permission.metrics_read))]

_STEP = 10
"""Every tenth point of the 101-point Qini grid is drawn (0 %, 10 %, ... 100 %)."""


class _MoneyAxis(str):
    """A ``line_chart`` ``y_format`` that writes each tick as money (a revenue Qini curve).

    The chart formats its ticks with ``y_format.format(value)``; this string answers that with
    the amount in ``currency``, localized as every other amount on the page.
    """

    currency: str

    def __new__(cls, currency: str) -> _MoneyAxis:
        """The axis format for amounts in ``currency``."""
        made = super().__new__(cls, "{}")
        made.currency = currency
        return made

    def format(self, *args: object, **kwargs: object) -> str:  # noqa: ARG002
        """The first value as money."""
        return fmt_money(args[0], self.currency)


def _policy(name: str) -> str:
    return t(f"uplift.policy_{name}") if name in ("model", "churn_risk", "random") else name


def _charts(curves: Any) -> list[dict[str, Any]]:
    """Per arm: the Qini lines of each policy on a 0-100 % grid."""
    out = []
    for arm in dict.fromkeys(curves["arm"]) if "arm" in curves else []:
        part = curves[curves["arm"] == arm]
        series = []
        for policy in dict.fromkeys(part["policy"]):
            line = part[part["policy"] == policy].sort_values("share")
            values = [float(v) for v in line["qini"].iloc[::_STEP]]
            series.append((_policy(str(policy)), values))
        labels = [f"{k * _STEP}%" for k in range(len(series[0][1]))] if series else []
        out.append({"arm": str(arm), "series": series, "labels": labels})
    return out


def _rows(frame: Any) -> list[dict[str, Any]]:
    rows = service.records(frame)
    for row in rows:
        if "policy" in row:
            row["policy_label"] = _policy(str(row["policy"]))
    return rows


@router.get("/uplift", response_class=HTMLResponse)
def uplift_page(
    request: Request,
    principal: Analyst,
    warehouse: LockedWarehouseDep,
    settings: SettingsDep,
    campaign: str | None = None,
) -> HTMLResponse:
    """The newest stored evaluation, or the chosen campaign's."""

    def build() -> HTMLResponse:
        listed = service.campaigns(warehouse.con)
        choices = list(dict.fromkeys(str(c) for c in listed["campaign_id"]))
        context: dict[str, Any] = {"choices": choices, "chosen": campaign or ""}
        picked = campaign.strip() if campaign and campaign.strip() else None
        picked = picked or (choices[0] if choices else None)
        if picked is not None:
            found = service.evaluation(warehouse.con, picked)
            money = service.unit(found.outcome) == "money"
            context.update(
                money=money,
                currency=settings.currency,
                y_format=_MoneyAxis(settings.currency) if money else "{:.2%}",
                unit_note=service.unit_note(found.outcome, settings.currency),
                window_note=service.window_note(found),
                chosen=picked,
                found=found,
                summary=service.summary(found),
                charts=_charts(found.curves),
                effects=_rows(found.effects),
                policies=_rows(found.policies),
                deciles=_rows(found.deciles),
            )
        return render(
            request,
            "uplift.html",
            principal=principal,
            title_key="uplift.page_title",
            **context,
        )

    return _page(request, principal, build)
