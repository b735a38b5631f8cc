"""Model cards: what each registered model is, what it was trained on and how well it does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from retain.app.deps import CanReadModels, SettingsDep
from retain.app.models import service

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models", tags=["models"])


class ModelCardPublic(BaseModel):
    """One model card as the registry wrote it."""

    id: str
    path: str
    card: dict[str, Any]


class ModelCardsPublic(BaseModel):
    """Every model card, newest first."""

    data: list[ModelCardPublic]
    count: int


@router.get("", response_model=ModelCardsPublic)
def list_models(_: CanReadModels, settings: SettingsDep) -> ModelCardsPublic:
    """Every registered model's card."""
    cards = service.list_cards(settings.models_dir)
    return ModelCardsPublic(data=[ModelCardPublic(**c) for c in cards], count=len(cards))


@router.get("/card", response_model=ModelCardPublic)
def read_model(
    _: CanReadModels, settings: SettingsDep, id: Annotated[str, Query(min_length=1, max_length=500)]
) -> ModelCardPublic:
    """One model card by its id (its folder in the registry, e.g. ``churn/3``)."""
    return ModelCardPublic(**service.get_card(settings.models_dir, id))
