"""Human labels for the customer attributes a reason names, looked up at display time.

A reason about a customer attribute is stored as its key and value
(``{"key": "reasons.attribute", "params": {"name": "Contract", "value": "Month-to-month"}}``);
only rendering turns them into words, so a label added later shows on scores already stored.

Labels come from, lowest first (a later source wins, language by language):

1. the labels a recipe ships for its dataset (``retain/ingest/recipes/labels/NAME.toml``: every
   Telco column), only in a project whose data that recipe loaded
   (:func:`retain.ingest.recipe.loaded_recipes`): Telco's "Monthly charge (USD)" must not
   name another business's ``MonthlyCharges``;
2. the file named by ``[labels] file`` in ``retain.toml``;
3. ``[labels.attributes.KEY]`` and ``[labels.values.KEY."VALUE"]`` tables in ``retain.toml``.

Each source has the same shape::

    [attributes.Contract]            # in retain.toml: [labels.attributes.Contract]
    en = "Contract type"
    ja = "契約形態"
    [values.Contract."Month-to-month"]
    ja = "月単位"
    [values."*".Yes]                 # "*": a value label for every attribute
    ja = "あり"

An attribute without a label reads as its key and value humanised ("PaymentMethod" as
"Payment method"); ``retain churn train`` names the keys left to label (:func:`unlabelled`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from retain.config import CONFIG_ENV, DEFAULT_CONFIG, LabelSettings, Settings, get_settings
from retain.errors import ConfigError

__all__ = [
    "Labels",
    "active_labels",
    "attribute_words",
    "humanise",
    "labels_from_settings",
    "recipe_labels",
    "shipped_labels",
    "unlabelled",
]

ANY = "*"
"""The key under ``values`` whose value labels hold for every attribute."""

Texts = Mapping[str, str]
"""One label in each language: ``{"en": ..., "ja": ..., "ko": ...}`` (any may be missing)."""


def _spelling(key: str) -> str:
    """A key as compared: lower case, runs of other than letters and digits as one ``_``.

    Reasons may name an attribute by its feature column's spelling (``Payment_Method``), so a
    label for ``Payment Method`` must still be found.
    """
    return "_".join("".join(c if c.isalnum() else " " for c in key.lower()).split())


@dataclass(frozen=True)
class Labels:
    """Attribute labels and value labels, each in en / ja / ko."""

    attributes: Mapping[str, Texts] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, Texts]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Labels:
        """Labels from ``{"attributes": {KEY: {lang: text}}, "values": {KEY: {VALUE: {...}}}}``."""
        attributes = {
            _spelling(str(k)): {str(lang): str(x) for lang, x in v.items()}
            for k, v in (data.get("attributes") or {}).items()
        }
        values = {
            (ANY if k == ANY else _spelling(str(k))): {
                str(value): {str(lang): str(x) for lang, x in texts.items()}
                for value, texts in v.items()
            }
            for k, v in (data.get("values") or {}).items()
        }
        return cls(attributes, values)

    def merged(self, other: Labels) -> Labels:
        """These labels with ``other``'s on top, language by language."""
        attributes = {k: dict(v) for k, v in self.attributes.items()}
        for k, v in other.attributes.items():
            attributes.setdefault(k, {}).update(v)
        values = {k: {x: dict(t) for x, t in vs.items()} for k, vs in self.values.items()}
        for k, vs in other.values.items():
            for x, texts in vs.items():
                values.setdefault(k, {}).setdefault(x, {}).update(texts)
        return Labels(attributes, values)

    def attribute(self, key: str, lang: str) -> str | None:
        """The label of attribute ``key`` in ``lang`` (English when that one is missing)."""
        texts = self.attributes.get(_spelling(key), {})
        return texts.get(lang) or texts.get("en")

    def value(self, key: str, value: str, lang: str) -> str | None:
        """The label of ``value`` of attribute ``key`` in ``lang``, else of any attribute."""
        for where in (_spelling(key), ANY):
            texts = self.values.get(where, {}).get(value)
            if texts and (texts.get(lang) or texts.get("en")):
                return texts.get(lang) or texts.get("en")
        return None

    def has_attribute(self, key: str) -> bool:
        """Whether ``key`` has a label in any language."""
        return bool(self.attributes.get(_spelling(key)))


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def humanise(key: str) -> str:
    """A key as words: ``PaymentMethod`` and ``payment_method`` read "Payment method"."""
    words = _CAMEL.sub(" ", key).replace("_", " ").split()
    if not words:
        return key
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def attribute_words(name: str, value: Any, lang: str, labels: Labels) -> tuple[str, str]:
    """How a reason about attribute ``name`` with ``value`` reads: its label and value label."""
    text = str(value)
    label = labels.attribute(name, lang) or humanise(name)
    shown = labels.value(name, text, lang)
    if shown is None:
        shown = text.replace("_", " ") if re.fullmatch(r"[A-Za-z0-9_]+", text) else text
    return label, shown


def unlabelled(keys: Iterable[str], labels: Labels) -> list[str]:
    """The attribute keys among ``keys`` that no source labels, in their order."""
    return [k for k in dict.fromkeys(keys) if not labels.has_attribute(k)]


@cache
def shipped_labels(recipes: tuple[str, ...] | None = None) -> Labels:
    """The labels the named recipes ship for their datasets (``None``: every recipe's), merged."""
    root = resources.files("retain.ingest") / "recipes" / "labels"
    out = Labels()
    if not root.is_dir():
        return out
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml") and (
            recipes is None or entry.name.removesuffix(".toml") in recipes
        ):
            out = out.merged(Labels.from_dict(tomllib.loads(entry.read_text(encoding="utf-8"))))
    return out


def recipe_labels() -> Labels:
    """The labels of the recipes that loaded this project's data (none for a project of its own)."""
    from retain.ingest.recipe import loaded_recipes  # the ingest package loads on first use

    return shipped_labels(tuple(sorted(loaded_recipes())))


def _read_file(path: Path) -> Labels:
    """A labels file, checked against the shape of ``[labels]`` (its ``file`` left out)."""
    with path.open("rb") as fh:
        data = LabelSettings.model_validate(tomllib.load(fh))
    return Labels.from_dict(data.model_dump())


def labels_from_settings(settings: Settings) -> Labels:
    """The loaded recipes' labels, then the labels file, then ``retain.toml``'s ``[labels]``."""
    out = recipe_labels()
    if settings.labels.file:
        out = out.merged(_read_file(Path(settings.labels.file)))
    return out.merged(Labels.from_dict(settings.labels.model_dump()))


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


_active: dict[str, Any] = {}


def active_labels() -> Labels:
    """The labels in effect for the working folder's ``retain.toml``; re-read when it changes.

    What rendering uses when given no labels, so every reader (the service, the dashboard,
    reports) shows the same words, and a label added to ``retain.toml`` or its labels file
    shows on the next page without rescoring. A configuration that cannot be read gives the
    loaded recipes' labels (the error surfaces where the settings are read for real).
    """
    from retain.ingest.recipe import loaded_recipes_file

    config = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))
    # A recipe loaded since (its labels now apply) counts as a change of configuration.
    stamp: tuple[Any, ...] = (
        str(config.resolve()),
        (_stamp(config), _stamp(loaded_recipes_file())),
    )
    cached = _active.get("stamp")
    if cached is not None and cached[:2] == stamp:
        file = cached[2]
        if file is None or _stamp(file) == cached[3]:
            return _active["labels"]  # type: ignore[no-any-return]
    try:
        settings = get_settings()
        labels = labels_from_settings(settings)
        file = Path(settings.labels.file) if settings.labels.file else None
    except (ConfigError, OSError, ValueError):  # words on a page must not fail on a config
        labels, file = recipe_labels(), None
    _active["stamp"] = (*stamp, file, None if file is None else _stamp(file))
    _active["labels"] = labels
    return labels
