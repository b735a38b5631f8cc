"""Model cards from the registry under ``settings.models_dir`` (written by the model commands).

A card is a JSON object in a file whose name contains ``card`` (``card.json``,
``model_card.json``). The service reads them as they are, so a new model kind shows up without a
change here; the dashboard lists common fields (name, kind, version, created_at, metrics) and
shows the rest as a table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retain.errors import NotFoundError
from retain.i18n import t

__all__ = ["get_card", "list_cards"]

_MAX_CARD_BYTES = 2 * 1024 * 1024


def _card_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.json") if "card" in p.name.lower() and p.is_file())


def _read(path: Path, root: Path) -> dict[str, Any] | None:
    if path.stat().st_size > _MAX_CARD_BYTES:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    ref = str(path.parent.relative_to(root)) if path.parent != root else path.stem
    data.setdefault("name", path.parent.parent.name if path.parent != root else path.stem)
    data.setdefault("version", path.parent.name if path.parent != root else "")
    return {"id": ref.replace("\\", "/"), "path": str(path.relative_to(root)), "card": data}


def list_cards(models_dir: Path) -> list[dict[str, Any]]:
    """Every readable card, newest first (by the card's ``created_at`` when present)."""
    root = Path(models_dir)
    cards = [c for p in _card_files(root) if (c := _read(p, root)) is not None]
    cards.sort(key=lambda c: str(c["card"].get("created_at") or ""), reverse=True)
    return cards


def get_card(models_dir: Path, card_id: str) -> dict[str, Any]:
    """The card with ``card_id`` (its folder under the registry) or 404."""
    for card in list_cards(models_dir):
        if card["id"] == card_id:
            return card
    raise NotFoundError(
        t("app.model_not_found", id=card_id), hint=t("app.no_models_hint"), code="models.not_found"
    )
