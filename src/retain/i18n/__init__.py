"""Translation of every user-facing string: ``t(key, **params)`` in English, Japanese or Korean.

Messages live in ``catalogs/<namespace>.toml``, one file per area of the product, each with an
``[en]``, ``[ja]`` and ``[ko]`` table. The key ``ingest.loaded`` is the entry ``loaded`` in
``catalogs/ingest.toml``. Parameters use ``str.format`` syntax (``{rows:,}``). A key missing in
the reader's language falls back to English; a key missing everywhere is returned as-is, and
``tests/i18n`` fails the build on both.

Reason codes from models are message keys with parameters, so they render in the reader's language
at display time (DESIGN.md).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources
from typing import Any, Literal

from retain.i18n.formatting import (
    format_currency,
    format_date,
    format_datetime,
    format_number,
    format_percent,
)

__all__ = [
    "LANGUAGES",
    "Language",
    "catalog",
    "format_currency",
    "format_date",
    "format_datetime",
    "format_number",
    "format_percent",
    "get_language",
    "language",
    "normalize_language",
    "set_language",
    "t",
]

Language = Literal["en", "ja", "ko"]
LANGUAGES: tuple[Language, ...] = ("en", "ja", "ko")
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "ja": "日本語", "ko": "한국어"}

_current: ContextVar[Language] = ContextVar("retain_language", default="en")


def normalize_language(value: str | None) -> Language:
    """Map ``ja_JP.UTF-8``, ``ko-KR``, ``JA`` and friends to a supported language (default en)."""
    if not value:
        return "en"
    code = value.strip().lower().replace("_", "-").split("-")[0].split(".")[0]
    if code in LANGUAGES:
        return code  # type: ignore[return-value]
    return "en"


def get_language() -> Language:
    """The language of the current context (request, CLI run)."""
    return _current.get()


def set_language(value: str | None) -> Language:
    """Set the language of the current context; returns the normalised code."""
    lang = normalize_language(value)
    _current.set(lang)
    return lang


@contextmanager
def language(value: str | None) -> Iterator[Language]:
    """Render messages in ``value`` inside the block."""
    token = _current.set(normalize_language(value))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalog(lang: str) -> dict[str, str]:
    """All messages of one language, keyed ``namespace.key``."""
    messages: dict[str, str] = {}
    root = resources.files("retain.i18n") / "catalogs"
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        namespace = entry.name.removesuffix(".toml")
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        _flatten(namespace, data.get(lang, {}), messages)
    return messages


def t(key: str, /, lang: str | None = None, **params: Any) -> str:
    """Render message ``key`` in ``lang`` (default: the current context's language)."""
    code = normalize_language(lang) if lang else _current.get()
    template = catalog(code).get(key)
    if template is None:
        template = catalog("en").get(key, key)
    if not params:
        return template
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template
