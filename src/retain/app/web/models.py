"""Dashboard page for model performance: the registry's model cards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from retain.app.auth.roles import Permission
from retain.app.deps import Principal, SettingsDep
from retain.app.models import service as models
from retain.app.web._page import MISSING_COMMANDS
from retain.app.web._page import page as _page
from retain.app.web._session import render, require_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

ModelsPage = Annotated[Principal, Depends(require_page(Permission.models_read))]
"""The logged-in user, if they may read model cards (else the 403 page)."""


@router.get("/models", response_class=HTMLResponse)
def model_cards(request: Request, principal: ModelsPage, settings: SettingsDep) -> HTMLResponse:
    """Model performance: the registry's model cards."""

    def build() -> HTMLResponse:
        cards = models.list_cards(settings.models_dir)
        return render(
            request,
            "models.html",
            principal=principal,
            title_key="web.nav_models",
            cards=cards,
            commands=MISSING_COMMANDS,
        )

    return _page(request, principal, build)
