"""The model registry: versioned churn models with model cards, under ``settings.models_dir``.

Each trained model is a folder ``<models_dir>/churn/<version>/`` holding ``model.pkl`` (the
fitted :class:`ChurnClassifier`) and ``card.json``, the model card: data window, churn
definition, features and their schema hash, the customer attributes read, backtest metrics
with baselines, training time, library versions, risk-band thresholds and the reference
distributions that drift is measured against. Versions sort by time
(``20240601T120000Z-3f2a``); the newest is the default.

``model.pkl`` is a pickle: load models only from a registry you trust. The card stores the file's
SHA-256 and :func:`load_model` refuses a file that does not match it.
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
from typing import Any

import pandas as pd

from retain.errors import DataValidationError, NotFoundError, Violation
from retain.i18n import t
from retain.models.churn.classifier import ChurnClassifier

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

CARD = "card.json"
ARTIFACT = "model.pkl"
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
    model: ChurnClassifier
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


def save_model(model: ChurnClassifier, card: ModelCard, *, models_dir: Path) -> Path:
    """Write ``model`` and its card to a new version folder, atomically; returns the folder."""
    version = str(card.get("version") or new_version())
    root = _root(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    (tmp / ARTIFACT).write_bytes(blob)
    full = {**card, "version": version, "artifact_sha256": hashlib.sha256(blob).hexdigest()}
    (tmp / CARD).write_text(
        json.dumps(full, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    final = root / version
    os.replace(tmp, final)
    return final


def list_models(*, models_dir: Path) -> list[ModelCard]:
    """Cards of every registered churn model, oldest first."""
    root = _root(models_dir)
    if not root.is_dir():
        return []
    cards = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        card_path = folder / CARD
        if card_path.is_file():
            cards.append(json.loads(card_path.read_text(encoding="utf-8")))
    return cards


def load_model(version: str | None = None, *, models_dir: Path) -> RegisteredModel:
    """The model ``version`` (default: the newest) and its card."""
    cards = list_models(models_dir=models_dir)
    if not cards:
        raise NotFoundError(
            t("churn.no_model", path=str(_root(models_dir))), hint=t("churn.no_model_hint")
        )
    if version is None:
        card = cards[-1]
    else:
        found = [c for c in cards if c["version"] == version]
        if not found:
            known = ", ".join(c["version"] for c in cards[-5:])
            raise NotFoundError(
                t("churn.unknown_version", version=version),
                hint=t("churn.unknown_version_hint", known=known),
            )
        card = found[0]
    folder = _root(models_dir) / card["version"]
    blob = (folder / ARTIFACT).read_bytes()
    if hashlib.sha256(blob).hexdigest() != card.get("artifact_sha256"):
        raise DataValidationError(
            [
                Violation(
                    rule="artifact_hash",
                    message=t("churn.artifact_changed"),
                    file=str(folder / ARTIFACT),
                    hint=t("churn.artifact_changed_hint"),
                )
            ]
        )
    model = pickle.loads(blob)  # noqa: S301 - verified against the card's SHA-256 above
    return RegisteredModel(card["version"], model, card, folder)
