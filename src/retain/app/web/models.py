"""Dashboard page for model performance: the registry's model cards."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from retain.app.auth.roles import Permission
from retain.app.deps import SettingsDep
from retain.app.models import service as models
from retain.app.web._page import MISSING_COMMANDS
from retain.app.web._page import allow as _allow
from retain.app.web._page import page as _page
from retain.app.web._session import PageUser, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/models", response_class=HTMLResponse)
def model_cards(request: Request, principal: PageUser, settings: SettingsDep) -> HTMLResponse:
    """Model performance: the registry's model cards."""

    def build() -> HTMLResponse:
        _allow(principal, Permission.models_read)
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
