"""The model registry: versioned churn models with model cards, under ``settings.models_dir``.

Each trained model is a folder ``<models_dir>/churn/<version>/`` holding ``model.pkl`` (the
fitted :class:`ChurnClassifier`, or the :class:`ChurnChampion` when a logistic or averaged
candidate won the backtest) and ``card.json``, the model card: data window, churn
definition, features and their schema hash, the customer attributes read, backtest metrics
with baselines, training time, library versions, risk-band thresholds and the reference
distributions that drift is measured against. Versions sort by time
(``20240601T120000Z-3f2a``); the newest is the default.

This module is churn's writer. Reading goes through :class:`retain.models.registry.ModelRegistry`,
the one reader for every kind: :func:`list_models` and :func:`load_model` are its churn views.
``model.pkl`` is a pickle: load models only from a registry you trust. The card stores the file's
SHA-256 and the registry refuses a file that does not match it, or a card without one.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import secrets
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import pandas as pd

from retain.models.churn.champion import ChurnChampion
from retain.models.churn.classifier import ChurnClassifier
from retain.models.registry import DIGEST_FIELD, ChurnKind, ModelRegistry

__all__ = [
    "ModelCard",
    "RegisteredModel",
    "feature_schema_hash",
    "library_versions",
    "list_models",
    "load_model",
    "new_version",
    "save_model",
]

CARD = ChurnKind.card_name
ARTIFACT = ChurnKind.artifact_name
_LIBRARIES = (
    "retain",
    "lightgbm",
    "scikit-learn",
    "numpy",
    "numba",
    "pandas",
    "ibis-framework",
    "duckdb",
)

ModelCard = dict[str, Any]
"""The model card: a JSON object (see the module docstring for its fields)."""


@dataclass
class RegisteredModel:
    """A model loaded from the registry with its card."""

    version: str
    model: ChurnClassifier | ChurnChampion
    card: ModelCard
    path: Path


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape a model's numbers."""
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def feature_schema_hash(columns: pd.Index | list[str], dtypes: list[str]) -> str:
    """SHA-256 of the feature names and kinds: scoring data must have the same."""
    text = "\n".join(f"{c}:{d}" for c, d in zip(columns, dtypes, strict=True))
    return hashlib.sha256(text.encode()).hexdigest()


def new_version(now: pd.Timestamp | None = None) -> str:
    """A new version name: UTC time of training plus 4 random hex digits."""
    stamp = (now or pd.Timestamp.now(tz="UTC")).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def _root(models_dir: Path) -> Path:
    return Path(models_dir) / "churn"


def save_model(
    model: ChurnClassifier | ChurnChampion, card: ModelCard, *, models_dir: Path
) -> Path:
    """Write ``model`` and its card to a new version folder, atomically; returns the folder."""
    version = str(card.get("version") or new_version())
    root = _root(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    (tmp / ARTIFACT).write_bytes(blob)
    full = {**card, "version": version, DIGEST_FIELD: hashlib.sha256(blob).hexdigest()}
    (tmp / CARD).write_text(
        json.dumps(full, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    final = root / version
    os.replace(tmp, final)
    return final


def list_models(*, models_dir: Path) -> list[ModelCard]:
    """Cards of every registered churn model, oldest first (unreadable cards are skipped)."""
    cards = ModelRegistry(models_dir).cards(ChurnKind.name)
    return [dict(card.data) for card in reversed(cards)]


def load_model(version: str | None = None, *, models_dir: Path) -> RegisteredModel:
    """The model ``version`` (default: the newest) and its card, after the SHA-256 check."""
    registry = ModelRegistry(models_dir)
    card = registry.select(ChurnKind.name, version)
    loaded = registry.load(card)
    # ChurnKind.build refuses anything but a ChurnClassifier or a ChurnChampion.
    model = cast(ChurnClassifier | ChurnChampion, loaded.model)
    return RegisteredModel(card.version, model, dict(card.data), card.path.parent)
