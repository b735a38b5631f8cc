"""``/api/v1/uplift/campaigns``: stored uplift evaluations of past campaigns (analysts, admins).

``router`` carries this API and the ``/uplift`` page (:mod:`retain.app.web.uplift`).

An evaluation compares the uplift model's ranking with "highest churn risk first" and random
targeting on a campaign's held-out customers; it is computed when stored (``retain uplift
evaluate --store``, the demo pipeline), never at request time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from retain.app.deps import AnalystOnly, LockedWarehouseDep, SettingsDep
from retain.app.uplift import service
from retain.app.uplift.schemas import UpliftCampaign, UpliftCampaigns, UpliftEvaluation
from retain.i18n import t

__all__ = ["api", "router"]

api = APIRouter(prefix="/api/v1/uplift", tags=["uplift"])


@api.get("/campaigns", response_model=UpliftCampaigns)
def list_campaigns(_: AnalystOnly, warehouse: LockedWarehouseDep) -> UpliftCampaigns:
    """Every stored evaluation, newest campaign first."""
    listed = service.campaigns(warehouse.con)
    rows = [UpliftCampaign(**row) for row in service.records(listed)]
    return UpliftCampaigns(campaigns=rows, note=None if rows else t("uplift.page_empty"))


@api.get("/campaigns/{campaign_id}", response_model=UpliftEvaluation)
def read_campaign(
    _: AnalystOnly,
    warehouse: LockedWarehouseDep,
    settings: SettingsDep,
    campaign_id: Annotated[str, Path(max_length=200)],
    outcome: Annotated[str | None, Query(pattern="^(retention|conversion|revenue)$")] = None,
) -> UpliftEvaluation:
    """One campaign's evaluation: effects, policies with intervals, deciles, Qini curves.

    ``unit`` says what the uplifts are: a share for a rate, money (``currency``) for revenue.
    """
    found = service.evaluation(warehouse.con, campaign_id, outcome)
    unit = service.unit(found.outcome)
    return UpliftEvaluation(
        campaign_id=found.campaign_id,
        outcome=found.outcome,
        learner=found.learner,
        started_at=found.started_at,
        evaluated_at=found.evaluated_at,
        n_train=found.n_train,
        n_test=found.n_test,
        effects=service.records(found.effects),
        policies=service.records(found.policies),
        deciles=service.records(found.deciles),
        curves=service.records(found.curves),
        summary=service.summary(found),
        unit=unit,
        currency=settings.currency if unit == "money" else None,
        window_days=found.window_days,
        window_basis=found.window_basis,
        window_note=service.window_note(found),
    )


def _combined() -> APIRouter:
    """The API and the page (``/uplift``), so the app wires uplift with one line."""
    from retain.app.web.uplift import router as page

    both = APIRouter()
    both.include_router(api)
    both.include_router(page)
    return both


router = _combined()
