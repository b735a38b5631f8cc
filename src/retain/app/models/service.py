"""Model cards for the API and the dashboard, read through the one model registry.

:class:`retain.models.registry.ModelRegistry` reads every kind (churn, lifetime value, and any
kind added later) under ``settings.models_dir``. This module shapes its typed cards into the
dict the API and the Models page show: ``id`` (``<kind>/<version>``), ``kind``, ``path`` and
``card``, the stored card with the common fields filled in where the kind stores them under
another name (``name``, ``version``, ``created_at``, headline ``metrics``, ``data_window``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retain.models.registry import ModelCard, ModelRegistry

__all__ = ["get_card", "list_cards", "public_card"]


def public_card(card: ModelCard, models_dir: Path) -> dict[str, Any]:
    """``{"id", "kind", "name", "version", "created_at", "path", "card"}`` for one card."""
    shown: dict[str, Any] = dict(card.data)
    shown.setdefault("kind", card.kind)
    shown.setdefault("name", card.title)
    shown.setdefault("version", card.version)
    created = card.created_at.isoformat() if card.created_at else None
    if created:
        shown.setdefault("created_at", created)
    if card.metrics:
        shown.setdefault("metrics", dict(card.metrics))
    if card.window.end and "data_window" not in shown:
        shown["data_window"] = card.window.as_dict()
    if card.notes:
        stored = shown.get("notes")
        shown["notes"] = [*(stored if isinstance(stored, list) else []), *card.notes]
    try:
        path = card.path.relative_to(Path(models_dir))
    except ValueError:
        path = card.path
    return {
        "id": card.id,
        "kind": card.kind,
        "name": card.name,
        "version": card.version,
        "created_at": created,
        "path": path.as_posix(),
        "card": shown,
    }


def list_cards(models_dir: Path) -> list[dict[str, Any]]:
    """Every readable card of every kind, newest first (unreadable ones are logged and left out)."""
    return [public_card(card, models_dir) for card in ModelRegistry(models_dir).cards()]


def get_card(models_dir: Path, card_id: str) -> dict[str, Any]:
    """The card with ``card_id`` (``<kind>/<version>``); 404 when unknown, 422 when unreadable."""
    return public_card(ModelRegistry(models_dir).card(card_id), models_dir)
