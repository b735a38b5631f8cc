"""Model cards: what each registered model is, what it was trained on and how well it does.

Every kind the model registry reads is listed (churn classifiers and lifetime-value models);
an id is ``<kind>/<version>``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from retain.app._openapi import UtcDateTime, document_errors, error_responses
from retain.app.deps import CanReadModels, SettingsDep
from retain.app.models import service

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models", tags=["models"])

_PART = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ModelCardPublic(BaseModel):
    """One model card as the registry read it, with the fields every kind shares on top."""

    id: str
    kind: str
    name: str
    version: str
    created_at: UtcDateTime | None
    path: str
    card: dict[str, Any]


class ModelCardsPublic(BaseModel):
    """Every model card of every kind, newest first."""

    data: list[ModelCardPublic]
    count: int


@router.get("", response_model=ModelCardsPublic)
def list_models(_: CanReadModels, settings: SettingsDep) -> ModelCardsPublic:
    """Every registered model's card, of every kind, newest first."""
    cards = service.list_cards(settings.models_dir)
    return ModelCardsPublic(data=[ModelCardPublic(**c) for c in cards], count=len(cards))


@router.get("/card", response_model=ModelCardPublic, responses=error_responses(404))
def read_model(
    _: CanReadModels, settings: SettingsDep, id: Annotated[str, Query(min_length=1, max_length=500)]
) -> ModelCardPublic:
    """One model card by its id (``churn/<version>``, ``clv/<version>``) as a query parameter."""
    return ModelCardPublic(**service.get_card(settings.models_dir, id))


@router.get("/{kind}/{version}", response_model=ModelCardPublic)
def read_model_by_path(
    _: CanReadModels,
    settings: SettingsDep,
    kind: Annotated[str, Path(max_length=50, pattern=_PART)],
    version: Annotated[str, Path(max_length=200, pattern=_PART)],
) -> ModelCardPublic:
    """One model card by its id in the path: ``/api/v1/models/clv/<version>``."""
    return ModelCardPublic(**service.get_card(settings.models_dir, f"{kind}/{version}"))


document_errors(router)
