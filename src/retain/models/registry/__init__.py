"""The model registry: one reader for every model kind under ``settings.models_dir``.

Each kind keeps its own writer (:func:`retain.models.churn.save_model`,
:func:`retain.models.clv.save_models`); everything that lists or loads a model reads it here::

    registry = ModelRegistry(settings.models_dir)
    registry.cards()  # every model, newest first
    registry.cards("churn", name="default")
    card = registry.latest("clv")  # a typed ModelCard: kind, name, version, created_at,
    card.metrics, card.window, card.data  # headline metrics, data window, the full card
    registry.load("churn/20240601T120000Z-3f2a").model

A model id is ``<kind>/<version>``, unique across kinds. Every card records the SHA-256 of its
artifact (the churn pickle; a CLV file's own parameters) and :meth:`ModelRegistry.load` refuses a
file that does not match. CLV files written before digests existed still load, and their card's
``notes`` say so; a churn pickle without a digest never loads. A kind is one adapter
(:class:`ModelKind`) in :data:`KINDS`, so uplift models join with one entry.
"""

from __future__ import annotations

from retain.models.registry._card import (
    LoadedModel,
    ModelCard,
    TrainingWindow,
    canonical_json,
    json_sha256,
)
from retain.models.registry._kinds import DIGEST_FIELD, KINDS, ChurnKind, ClvKind, ModelKind
from retain.models.registry._registry import MAX_CARD_BYTES, ModelRegistry

__all__ = [
    "DIGEST_FIELD",
    "KINDS",
    "MAX_CARD_BYTES",
    "ChurnKind",
    "ClvKind",
    "LoadedModel",
    "ModelCard",
    "ModelKind",
    "ModelRegistry",
    "TrainingWindow",
    "canonical_json",
    "json_sha256",
]
