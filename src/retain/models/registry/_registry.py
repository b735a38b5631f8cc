"""The one reader of ``models_dir``: list, describe, verify and load models of every kind."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import pickle
from collections.abc import Mapping
from pathlib import Path

from retain.errors import DataValidationError, NotFoundError, Violation
from retain.i18n import t
from retain.models.registry._card import LoadedModel, ModelCard
from retain.models.registry._kinds import KINDS, ModelKind

__all__ = ["MAX_CARD_BYTES", "ModelRegistry"]

log = logging.getLogger("retain.models.registry")

MAX_CARD_BYTES = 16 * 1024 * 1024
"""Cards larger than this are not parsed (a CLV file with its holdout tracking is ~100 kB)."""

_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_OLDEST = dt.datetime.min.replace(tzinfo=dt.UTC)


class ModelRegistry:
    """Every model under ``models_dir``, whatever its kind, read one way.

    Parameters
    ----------
    models_dir
        The folder the model commands write to (``settings.models_dir``).
    kinds
        The kinds to read, by name; default :data:`KINDS` (churn and clv).

    Notes
    -----
    A model id is ``<kind>/<version>`` (``churn/20240601T120000Z-3f2a``,
    ``clv/clv-20240601T120000-1a2b3c``), unique across kinds. Listings skip a card that cannot be
    read and log a warning; asking for that card by id raises :class:`DataValidationError`.
    Loading checks the SHA-256 the card records before anything is unpickled or rebuilt.
    """

    def __init__(self, models_dir: Path | str, *, kinds: Mapping[str, ModelKind] | None = None):
        self.models_dir = Path(models_dir)
        self.kinds: dict[str, ModelKind] = dict(KINDS if kinds is None else kinds)

    def cards(self, kind: str | None = None, *, name: str | None = None) -> list[ModelCard]:
        """Cards of every readable model (of ``kind``, named ``name``), newest first."""
        adapters = [self._kind(kind, model_id=kind)] if kind else list(self.kinds.values())
        found: list[ModelCard] = []
        for adapter in adapters:
            for version, path in adapter.card_files(adapter.folder(self.models_dir)).items():
                try:
                    card = self._read(adapter, version, path)
                except DataValidationError as exc:
                    reason = exc.violations[0].message if exc.violations else str(exc)
                    log.warning(t("registry.card_skipped", path=str(path), reason=reason))
                    continue
                if name is None or card.name == name:
                    found.append(card)
        found.sort(key=lambda c: (c.created_at or _OLDEST, c.kind, c.version), reverse=True)
        return found

    def card(self, model_id: str) -> ModelCard:
        """The card of ``model_id``: :class:`NotFoundError` when there is none."""
        kind, _, version = model_id.partition("/")
        if not kind or not version:
            raise NotFoundError(
                t("registry.bad_id", id=model_id),
                hint=t("registry.bad_id_hint", kinds=", ".join(self.kinds)),
                code="models.not_found",
            )
        adapter = self._kind(kind, model_id=model_id)
        folder = adapter.folder(self.models_dir)
        files = adapter.card_files(folder)
        if version not in files:
            if not files:
                raise adapter.no_models(folder)
            raise adapter.unknown_version(version, sorted(files)[-5:])
        return self._read(adapter, version, files[version])

    def latest(self, kind: str, *, name: str | None = None) -> ModelCard:
        """The newest card of ``kind`` (of churn definition ``name``, say)."""
        cards = self.cards(kind, name=name)
        if not cards:
            adapter = self._kind(kind, model_id=kind)
            raise adapter.no_models(adapter.folder(self.models_dir))
        return cards[0]

    def select(self, kind: str, version: str | None = None) -> ModelCard:
        """The card of ``version`` of ``kind``, or the newest one when ``version`` is ``None``."""
        return self.latest(kind) if version is None else self.card(f"{kind}/{version}")

    def verify(self, card: ModelCard) -> bytes:
        """The tamper check: the artifact's bytes, once their SHA-256 matches the card's.

        Raises :class:`DataValidationError` naming the file when the digest differs, the file is
        missing, or a kind that requires a digest (a pickle) has none recorded.
        """
        adapter = self._kind(card.kind, model_id=card.id)
        try:
            blob = adapter.artifact_bytes(card)
        except FileNotFoundError:
            raise _artifact_error("artifact_missing", card, adapter) from None
        except (OSError, ValueError, TypeError) as exc:
            raise _unreadable(card.artifact, adapter.folder(self.models_dir), str(exc)) from None
        if card.sha256 is None:
            if adapter.requires_digest:
                raise _artifact_error("artifact_unsigned", card, adapter)
            return blob
        if hashlib.sha256(blob).hexdigest() != card.sha256:
            raise _artifact_error("artifact_changed", card, adapter)
        return blob

    def load(self, model: str | ModelCard) -> LoadedModel:
        """The fitted model of ``model`` (an id or a card), after :meth:`verify`."""
        card = self.card(model) if isinstance(model, str) else model
        adapter = self._kind(card.kind, model_id=card.id)
        blob = self.verify(card)
        try:
            fitted = adapter.build(card, blob)
        except DataValidationError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, pickle.UnpicklingError) as exc:
            reason = t("registry.reason_bad_field", field=exc.args[0] if exc.args else "?")
            raise _unreadable(card.path, adapter.folder(self.models_dir), reason) from None
        return LoadedModel(card=card, model=fitted)

    def _kind(self, kind: str, *, model_id: str) -> ModelKind:
        adapter = self.kinds.get(kind)
        if adapter is None:
            raise NotFoundError(
                t("registry.unknown_kind", kind=kind, id=model_id),
                hint=t("registry.unknown_kind_hint", kinds=", ".join(self.kinds)),
                code="models.not_found",
            )
        return adapter

    def _read(self, adapter: ModelKind, version: str, path: Path) -> ModelCard:
        folder = adapter.folder(self.models_dir)
        try:
            too_large = path.stat().st_size > MAX_CARD_BYTES
            data = None if too_large else json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise _unreadable(path, folder, t("registry.reason_not_json", error=exc)) from None
        except (OSError, ValueError) as exc:
            raise _unreadable(path, folder, str(exc)) from None
        if too_large:
            reason = t("registry.reason_too_large", limit=MAX_CARD_BYTES // 2**20)
            raise _unreadable(path, folder, reason)
        if not isinstance(data, dict):
            found = _JSON_TYPES.get(type(data), "null")
            raise _unreadable(path, folder, t("registry.reason_not_object", found=found))
        try:
            return adapter.describe(version, path, data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = t("registry.reason_bad_field", field=exc.args[0] if exc.args else "?")
            raise _unreadable(path, folder, reason) from None


def _unreadable(path: Path, folder: Path, reason: str) -> DataValidationError:
    return DataValidationError(
        [
            Violation(
                rule="model_card",
                message=t("registry.card_unreadable", reason=reason),
                file=str(path),
                hint=t("registry.card_unreadable_hint", folder=str(folder)),
            )
        ]
    )


def _artifact_error(key: str, card: ModelCard, adapter: ModelKind) -> DataValidationError:
    rule = "artifact_hash" if key == "artifact_changed" else key
    return DataValidationError(
        [
            Violation(
                rule=rule,
                message=t(f"registry.{key}"),
                file=str(card.artifact),
                hint=t(f"registry.{key}_hint", command=adapter.command),
            )
        ]
    )
