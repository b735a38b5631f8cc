"""The typed model card every kind is read into, and the digest of a JSON document."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LoadedModel",
    "ModelCard",
    "TrainingWindow",
    "canonical_json",
    "json_sha256",
    "parse_timestamp",
]

_STAMP = re.compile(r"(\d{8}T\d{6})")


@dataclass(frozen=True)
class TrainingWindow:
    """First and last day of the data a model was fitted on (ISO text; ``None`` when unknown)."""

    start: str | None = None
    end: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """``{"start": ..., "end": ...}``, the shape churn cards store."""
        return {"start": self.start, "end": self.end}


@dataclass(frozen=True)
class ModelCard:
    """One registered model as the registry reads it, whatever its kind.

    Attributes
    ----------
    kind
        The model kind (``churn``, ``clv``).
    version
        The version within its kind; :attr:`id` is unique across kinds.
    name
        What the model is of: the churn definition, or the CLV models (``BG/NBD + Gamma-Gamma``).
    created_at
        When it was trained (UTC), or ``None`` when neither the card nor the version says.
    metrics
        Headline numbers: the churn backtest's model row, CLV fit quality and holdout errors.
    window
        The data the model was fitted on.
    path
        The card file.
    artifact
        The file whose SHA-256 the card records (``model.pkl``; for CLV the JSON file itself).
    sha256
        The recorded SHA-256, or ``None`` for files written before the registry kept one.
    notes
        What the registry wants a reader to know about this card (a missing digest).
    data
        The full card as stored.
    """

    kind: str
    version: str
    name: str
    created_at: dt.datetime | None
    metrics: Mapping[str, float]
    window: TrainingWindow
    path: Path
    artifact: Path
    sha256: str | None
    notes: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """``<kind>/<version>``: unique across kinds."""
        return f"{self.kind}/{self.version}"

    @property
    def title(self) -> str:
        """``churn: default``, ``clv: BG/NBD + Gamma-Gamma`` — kind and name in one line."""
        return self.kind if self.name == self.kind else f"{self.kind}: {self.name}"


@dataclass(frozen=True)
class LoadedModel:
    """A fitted model loaded from the registry, after its digest was checked, with its card."""

    card: ModelCard
    model: object


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """``document`` as UTF-8 JSON with sorted keys and no spaces: the form its SHA-256 is of."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def json_sha256(document: Mapping[str, Any]) -> str:
    """SHA-256 of a JSON document in :func:`canonical_json` form.

    Writer and reader both hash the document as parsed from JSON, so the digest survives the
    file's indentation and key order; a changed value changes it.
    """
    return hashlib.sha256(canonical_json(document)).hexdigest()


def parse_timestamp(value: object, *, version: str = "") -> dt.datetime | None:
    """An ISO timestamp from a card (naive is UTC), else the ``YYYYMMDDTHHMMSS`` in ``version``."""
    if isinstance(value, str) and value:
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            stamp = None
        if stamp is not None:
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    found = _STAMP.search(version)
    if found is None:
        return None
    try:
        return dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
