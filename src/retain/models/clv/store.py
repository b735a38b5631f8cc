"""A small store for fitted CLV models: one JSON file per version under ``models_dir/clv``.

A version holds the fitted purchase and spend models (class, hyper-parameters, parameters,
standard errors, log-likelihood), the summary settings they were fitted with (time unit,
as-of date) and, after ``retain clv evaluate``, the holdout diagnostics. Files are plain JSON so
a reviewer can read what a score was computed with. Versions sort by creation time.

This module is the CLV writer. Each file records ``artifact_sha256``, the SHA-256 of the document
without that field (:func:`retain.models.registry.json_sha256`), so a hand-edited parameter is
caught. Reading goes through :class:`retain.models.registry.ModelRegistry`, the one reader for
every kind: :func:`list_versions` and :func:`load_models` are its CLV views, and files written
before the digest existed still load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from retain.models.clv.bgbb import BetaGeoBetaBinomModel
from retain.models.clv.bgnbd import BetaGeoModel
from retain.models.clv.gamma_gamma import GammaGammaModel
from retain.models.clv.pareto_nbd import ParetoNBDModel
from retain.models.clv.sbg import ShiftedBetaGeometricModel
from retain.models.registry import DIGEST_FIELD, ClvKind, ModelRegistry, json_sha256

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = [
    "StoredModels",
    "list_versions",
    "load_models",
    "model_from_entry",
    "save_models",
    "store_dir",
    "update_meta",
]

_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        BetaGeoModel,
        ParetoNBDModel,
        BetaGeoBetaBinomModel,
        GammaGammaModel,
        ShiftedBetaGeometricModel,
    )
}
_STATE = (
    "params_",
    "standard_errors_",
    "log_likelihood_",
    "n_customers_",
    "n_iterations_",
    "aic_",
    "bic_",
    "frequency_spend_correlation_",
    "n_periods_",
)


@dataclass
class StoredModels:
    """One stored version: the models by role (``purchase``, ``spend``, renewals) and metadata."""

    version: str
    models: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def purchase_model(self) -> Any:
        """The purchase model (BG/NBD or Pareto/NBD)."""
        return self.models["purchase"]

    @property
    def spend_model(self) -> Any:
        """The Gamma-Gamma spend model."""
        return self.models["spend"]

    @property
    def subscription_models(self) -> dict[str, ShiftedBetaGeometricModel]:
        """The renewal models by role (``subscription:<period>:<plan>``); empty without any."""
        return {
            role: model
            for role, model in self.models.items()
            if role.startswith("subscription:") and isinstance(model, ShiftedBetaGeometricModel)
        }


def store_dir(settings: Settings) -> Path:
    """``settings.models_dir / "clv"``."""
    return Path(settings.models_dir) / ClvKind.name


def _dump(model: Any) -> dict[str, Any]:
    state = {k: getattr(model, k) for k in _STATE if hasattr(model, k)}
    return {"class": type(model).__name__, "hyper_parameters": model.get_params(), "state": state}


def model_from_entry(entry: dict[str, Any]) -> Any:
    """The fitted model a stored entry (class, hyper-parameters, learned state) describes."""
    cls = _CLASSES[entry["class"]]
    model = cls(**entry["hyper_parameters"])
    for key, value in entry["state"].items():
        setattr(model, key, value)
    return model


def _write(path: Path, document: dict[str, Any], *, sign: bool) -> None:
    """Write ``document`` atomically, normalised to what JSON reads back, with its digest."""
    body = json.loads(json.dumps(document, default=str))
    body.pop(DIGEST_FIELD, None)
    if sign:
        body[DIGEST_FIELD] = json_sha256(body)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def save_models(models: dict[str, Any], *, settings: Settings, meta: dict[str, Any]) -> str:
    """Write a new version holding ``models`` (role -> fitted model) and ``meta``; return it."""
    body = {role: _dump(m) for role, m in models.items()}
    now = dt.datetime.now(dt.UTC)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    version = f"clv-{now:%Y%m%dT%H%M%S}-{digest[:6]}"
    folder = store_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"version": version, "created_at": now.isoformat(), "models": body, "meta": meta}
    _write(folder / f"{version}.json", doc, sign=True)
    return version


def update_meta(version: str, *, settings: Settings, **meta: Any) -> None:
    """Merge ``meta`` into a stored version's metadata (used to attach evaluation results).

    The file is verified first, so a changed file is refused rather than re-signed; a file
    written before digests existed stays without one.
    """
    registry = ModelRegistry(settings.models_dir)
    card = registry.card(f"{ClvKind.name}/{version}")
    doc = json.loads(registry.verify(card))
    doc["meta"] = {**(doc.get("meta") or {}), **meta}
    _write(card.path, doc, sign=card.sha256 is not None)


def list_versions(settings: Settings) -> list[str]:
    """Stored versions, oldest first (unreadable files are skipped)."""
    cards = ModelRegistry(settings.models_dir).cards(ClvKind.name)
    return [card.version for card in reversed(cards)]


def load_models(settings: Settings, version: str | None = None) -> StoredModels:
    """Load ``version`` (default: the latest) after the registry's SHA-256 check.

    Raises :class:`NotFoundError` when there is none.
    """
    registry = ModelRegistry(settings.models_dir)
    card = registry.select(ClvKind.name, version)
    # ClvKind.build returns StoredModels.
    return cast(StoredModels, registry.load(card).model)
