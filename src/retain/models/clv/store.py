"""A small store for fitted CLV models: one JSON file per version under ``models_dir/clv``.

A version holds the fitted purchase and spend models (class, hyper-parameters, parameters,
standard errors, log-likelihood), the summary settings they were fitted with (time unit,
as-of date) and, after ``retain clv evaluate``, the holdout diagnostics. Files are plain JSON so
a reviewer can read what a score was computed with. Versions sort by creation time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain.errors import NotFoundError
from retain.i18n import t
from retain.models.clv.bgbb import BetaGeoBetaBinomModel
from retain.models.clv.bgnbd import BetaGeoModel
from retain.models.clv.gamma_gamma import GammaGammaModel
from retain.models.clv.pareto_nbd import ParetoNBDModel
from retain.models.clv.sbg import ShiftedBetaGeometricModel

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = ["StoredModels", "list_versions", "load_models", "save_models", "store_dir"]

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
    """One stored version: the models by role (``purchase``, ``spend``) and metadata."""

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


def store_dir(settings: Settings) -> Path:
    """``settings.models_dir / "clv"``."""
    return Path(settings.models_dir) / "clv"


def _dump(model: Any) -> dict[str, Any]:
    state = {k: getattr(model, k) for k in _STATE if hasattr(model, k)}
    return {"class": type(model).__name__, "hyper_parameters": model.get_params(), "state": state}


def _load(entry: dict[str, Any]) -> Any:
    cls = _CLASSES[entry["class"]]
    model = cls(**entry["hyper_parameters"])
    for key, value in entry["state"].items():
        setattr(model, key, value)
    return model


def save_models(models: dict[str, Any], *, settings: Settings, meta: dict[str, Any]) -> str:
    """Write a new version holding ``models`` (role -> fitted model) and ``meta``; return it."""
    body = {role: _dump(m) for role, m in models.items()}
    now = dt.datetime.now(dt.UTC)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    version = f"clv-{now:%Y%m%dT%H%M%S}-{digest[:6]}"
    folder = store_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"version": version, "created_at": now.isoformat(), "models": body, "meta": meta}
    tmp = folder / f".{version}.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, folder / f"{version}.json")
    return version


def update_meta(version: str, *, settings: Settings, **meta: Any) -> None:
    """Merge ``meta`` into a stored version's metadata (used to attach evaluation results)."""
    path = store_dir(settings) / f"{version}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["meta"].update(meta)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def list_versions(settings: Settings) -> list[str]:
    """Stored versions, oldest first."""
    folder = store_dir(settings)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("clv-*.json"))


def load_models(settings: Settings, version: str | None = None) -> StoredModels:
    """Load ``version`` (default: the latest); :class:`NotFoundError` when there is none."""
    versions = list_versions(settings)
    if not versions:
        raise NotFoundError(
            t("clv.no_models", path=str(store_dir(settings))), hint=t("clv.no_models_hint")
        )
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise NotFoundError(
            t("clv.unknown_version", version=chosen, known=", ".join(versions[-5:])),
            hint=t("clv.unknown_version_hint"),
        )
    doc = json.loads((store_dir(settings) / f"{chosen}.json").read_text(encoding="utf-8"))
    models = {role: _load(entry) for role, entry in doc["models"].items()}
    return StoredModels(version=chosen, models=models, meta=doc.get("meta", {}))
