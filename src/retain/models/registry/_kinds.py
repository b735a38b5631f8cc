"""Model kinds: how each kind lies under ``models_dir`` and how its card and model are read.

A kind is one small adapter. :class:`ChurnKind` reads ``churn/<version>/card.json`` with the
pickled classifier beside it; :class:`ClvKind` reads ``clv/<version>.json``, which holds the
parameters themselves. Adding a kind (uplift) is one subclass and one entry in :data:`KINDS`.

Model classes are imported only when a model is loaded, so listing cards stays cheap and the
kinds' own packages can import the registry without a cycle.
"""

from __future__ import annotations

import json
import math
import pickle
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from retain.errors import DataValidationError, NotFoundError, Violation
from retain.i18n import t
from retain.models.registry._card import (
    ModelCard,
    TrainingWindow,
    canonical_json,
    parse_timestamp,
)

__all__ = ["DIGEST_FIELD", "KINDS", "ChurnKind", "ClvKind", "ModelKind", "UpliftKind"]

DIGEST_FIELD = "artifact_sha256"


class ModelKind(ABC):
    """One kind of model in the registry: where its cards are and how to read them.

    ``name`` is the folder under ``models_dir`` and the first part of a model id; ``command``
    writes a new version and is named in hints; ``requires_digest`` refuses to load a model
    whose card records no SHA-256 (a pickle must never load unverified).
    """

    name: ClassVar[str]
    command: ClassVar[str]
    requires_digest: ClassVar[bool] = True
    no_models_keys: ClassVar[tuple[str, str]]
    unknown_version_keys: ClassVar[tuple[str, str]]

    def folder(self, models_dir: Path) -> Path:
        """Where this kind's versions live: ``<models_dir>/<name>``."""
        return Path(models_dir) / self.name

    @abstractmethod
    def card_files(self, folder: Path) -> dict[str, Path]:
        """Every version in ``folder`` and its card file (unparsed); in-progress writes left out."""

    @abstractmethod
    def describe(self, version: str, path: Path, data: Mapping[str, Any]) -> ModelCard:
        """The typed card of ``version``; KeyError, TypeError or ValueError when malformed."""

    @abstractmethod
    def artifact_bytes(self, card: ModelCard) -> bytes:
        """The bytes whose SHA-256 the card records, read from disk now."""

    @abstractmethod
    def build(self, card: ModelCard, blob: bytes) -> object:
        """The fitted model from verified ``blob``."""

    def no_models(self, folder: Path) -> NotFoundError:
        """The error for a kind with no version at all."""
        message, hint = self.no_models_keys
        return NotFoundError(t(message, path=str(folder)), hint=t(hint), code="models.not_found")

    def unknown_version(self, version: str, known: list[str]) -> NotFoundError:
        """The error for a version that is not registered; ``known`` are the newest ones."""
        message, hint = self.unknown_version_keys
        shown = ", ".join(known)
        return NotFoundError(
            t(message, version=version, known=shown),
            hint=t(hint, version=version, known=shown),
            code="models.not_found",
        )

    def wrong_class(self, card: ModelCard, found: object, expected: str) -> DataValidationError:
        """The error for an artifact holding something other than this kind's model."""
        return DataValidationError(
            [
                Violation(
                    rule="artifact_class",
                    message=t(
                        "registry.wrong_class", found=type(found).__name__, expected=expected
                    ),
                    file=str(card.artifact),
                    hint=t("registry.wrong_class_hint", command=self.command),
                )
            ]
        )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _window(value: object) -> TrainingWindow:
    if not isinstance(value, Mapping):
        return TrainingWindow()
    return TrainingWindow(start=_text(value.get("start")), end=_text(value.get("end")))


def _digest(data: Mapping[str, Any]) -> str | None:
    value = data.get(DIGEST_FIELD)
    if value is not None and not isinstance(value, str):
        raise TypeError(DIGEST_FIELD)
    return value or None


class ChurnKind(ModelKind):
    """Churn classifiers: ``churn/<version>/card.json`` and the pickled ``model.pkl``."""

    name = "churn"
    command = "'retain churn train'"
    no_models_keys = ("churn.no_model", "churn.no_model_hint")
    unknown_version_keys = ("churn.unknown_version", "churn.unknown_version_hint")
    card_name = "card.json"
    artifact_name = "model.pkl"

    def card_files(self, folder: Path) -> dict[str, Path]:
        """Version folders (hidden ones are writes in progress) that hold a ``card.json``."""
        if not folder.is_dir():
            return {}
        return {
            p.name: p / self.card_name
            for p in folder.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / self.card_name).is_file()
        }

    def describe(self, version: str, path: Path, data: Mapping[str, Any]) -> ModelCard:
        """Name from the churn definition; metrics from the backtest's ``model`` row."""
        definition = data.get("definition")
        name = _text(data.get("name")) or (
            _text(definition.get("name")) if isinstance(definition, Mapping) else None
        )
        sha = _digest(data)
        return ModelCard(
            kind=self.name,
            version=version,
            name=name or self.name,
            created_at=parse_timestamp(
                data.get("created_at") or data.get("trained_at"), version=version
            ),
            metrics=self._metrics(data.get("backtest")),
            window=_window(data.get("data_window")),
            path=path,
            artifact=path.parent / self.artifact_name,
            sha256=sha,
            notes=() if sha else (t("registry.no_digest_refused"),),
            data=data,
        )

    @staticmethod
    def _metrics(backtest: object) -> dict[str, float]:
        rows = backtest.get("metrics") if isinstance(backtest, Mapping) else None
        if not isinstance(rows, list):
            return {}
        for row in rows:
            if isinstance(row, Mapping) and row.get("model") == "model":
                return {
                    str(k): n
                    for k, v in row.items()
                    if k != "model" and (n := _number(v)) is not None
                }
        return {}

    def artifact_bytes(self, card: ModelCard) -> bytes:
        """The pickle, byte for byte."""
        return card.artifact.read_bytes()

    def build(self, card: ModelCard, blob: bytes) -> object:
        """Unpickle the verified classifier or champion; anything else is refused."""
        from retain.models.churn.champion import ChurnChampion
        from retain.models.churn.classifier import ChurnClassifier

        model = pickle.loads(blob)  # noqa: S301 - the registry checked the card's SHA-256 first
        if not isinstance(model, ChurnClassifier | ChurnChampion):
            raise self.wrong_class(card, model, "ChurnClassifier or ChurnChampion")
        return model


class ClvKind(ModelKind):
    """Lifetime-value models: ``clv/<version>.json`` holds the parameters and the metadata.

    The file is its own artifact: its SHA-256 is of the document without the digest field, in
    :func:`canonical_json` form. Files written before the digest existed still load, and their
    card says so.
    """

    name = "clv"
    command = "'retain clv fit'"
    requires_digest = False
    no_models_keys = ("clv.no_models", "clv.no_models_hint")
    unknown_version_keys = ("clv.unknown_version", "clv.unknown_version_hint")
    labels: ClassVar[dict[str, str]] = {
        "BetaGeoModel": "BG/NBD",
        "ParetoNBDModel": "Pareto/NBD",
        "BetaGeoBetaBinomModel": "BG/BB",
        "GammaGammaModel": "Gamma-Gamma",
        "ShiftedBetaGeometricModel": "sBG",
    }

    def card_files(self, folder: Path) -> dict[str, Path]:
        """Every ``<version>.json`` (hidden files are writes in progress)."""
        if not folder.is_dir():
            return {}
        return {
            p.stem: p for p in folder.glob("*.json") if not p.name.startswith(".") and p.is_file()
        }

    def describe(self, version: str, path: Path, data: Mapping[str, Any]) -> ModelCard:
        """Name from the model classes, each once (sBG is stored per plan); fit, holdout metrics."""
        models = data["models"]
        if not isinstance(models, Mapping) or not models:
            raise TypeError("models")
        classes = [str(entry["class"]) for entry in models.values()]
        meta = data.get("meta") or {}
        if not isinstance(meta, Mapping):
            raise TypeError("meta")
        sha = _digest(data)
        return ModelCard(
            kind=self.name,
            version=version,
            name=" + ".join(dict.fromkeys(self.labels.get(c, c) for c in classes)),
            created_at=parse_timestamp(data.get("created_at"), version=version),
            metrics=self._metrics(models, meta),
            window=TrainingWindow(end=_text(meta.get("as_of"))),
            path=path,
            artifact=path,
            sha256=sha,
            notes=() if sha else (t("registry.no_digest"),),
            data=data,
        )

    @staticmethod
    def _metrics(models: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        purchase = models.get("purchase")
        state = purchase.get("state") if isinstance(purchase, Mapping) else None
        if isinstance(state, Mapping):
            for key in ("n_customers_", "log_likelihood_", "aic_", "bic_"):
                if (n := _number(state.get(key))) is not None:
                    out[key.rstrip("_")] = n
        evaluation = meta.get("evaluation")
        rows = evaluation.get("metrics") if isinstance(evaluation, Mapping) else None
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, Mapping):
                continue
            suffix = "" if row.get("method") == "model" else f"_{row.get('method')}"
            for stat in ("mae", "spearman"):
                if (n := _number(row.get(stat))) is not None:
                    out[f"holdout_{row.get('quantity')}_{stat}{suffix}"] = n
        return out

    def artifact_bytes(self, card: ModelCard) -> bytes:
        """The file as parsed now, without its digest field, in canonical form."""
        document = json.loads(card.artifact.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise TypeError("document")
        document.pop(DIGEST_FIELD, None)
        return canonical_json(document)

    def build(self, card: ModelCard, blob: bytes) -> object:
        """The stored purchase and spend models, rebuilt from the verified parameters."""
        from retain.models.clv.store import StoredModels, model_from_entry

        document = json.loads(blob)
        models = {role: model_from_entry(entry) for role, entry in document["models"].items()}
        return StoredModels(version=card.version, models=models, meta=document.get("meta") or {})


class UpliftKind(ChurnKind):
    """Uplift models: ``uplift/<version>/card.json`` and the pickled learner ``model.pkl``.

    The card (written by :func:`retain.models.uplift.save_uplift_model`) names the campaign and
    outcome and holds flat held-out ``metrics`` (Qini, AUUC).
    """

    name = "uplift"
    command = "'retain uplift train'"
    no_models_keys = ("uplift.no_model", "uplift.no_model_hint")
    unknown_version_keys = ("uplift.unknown_version", "uplift.unknown_version_hint")

    def describe(self, version: str, path: Path, data: Mapping[str, Any]) -> ModelCard:
        """Name and metrics as the card records them."""
        metrics = data.get("metrics")
        sha = _digest(data)
        return ModelCard(
            kind=self.name,
            version=version,
            name=_text(data.get("name")) or self.name,
            created_at=parse_timestamp(data.get("created_at"), version=version),
            metrics={
                str(k): n
                for k, v in (metrics.items() if isinstance(metrics, Mapping) else ())
                if (n := _number(v)) is not None
            },
            window=_window(data.get("data_window")),
            path=path,
            artifact=path.parent / self.artifact_name,
            sha256=sha,
            notes=() if sha else (t("registry.no_digest_refused"),),
            data=data,
        )

    def build(self, card: ModelCard, blob: bytes) -> object:
        """Unpickle the verified learner; anything else is refused."""
        from retain.models.uplift.learners import UpliftLearner

        model = pickle.loads(blob)  # noqa: S301 - the registry checked the card's SHA-256 first
        if not isinstance(model, UpliftLearner):
            raise self.wrong_class(card, model, "UpliftLearner")
        return model


KINDS: dict[str, ModelKind] = {kind.name: kind for kind in (ChurnKind(), ClvKind(), UpliftKind())}
"""The kinds every registry reads, by name (the first part of a model id)."""
