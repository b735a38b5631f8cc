"""A churn score's reasons read back from ``churn_scores.reasons`` and put into words.

Scoring stores reasons as a JSON list of ``{key, params, contribution}`` (message keys, see
:mod:`retain.models.churn.reasons`); readers render them in the reader's language. A malformed
entry is skipped, and malformed text gives no reasons: a bad reason must never hide a customer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from retain.i18n import t

__all__ = ["RenderedReason", "render_reasons"]


@dataclass(frozen=True)
class RenderedReason:
    """One stored reason with its text in the reader's language."""

    key: str
    text: str
    params: dict[str, Any] = field(default_factory=dict)
    contribution: float | None = None


def _items(text: object) -> list[Any]:
    if not isinstance(text, str) or not text:
        return []
    try:
        items = json.loads(text)
    except ValueError:
        return []
    return items if isinstance(items, list) else []


def render_reasons(text: object, *, lang: str | None = None) -> list[RenderedReason]:
    """The reasons in ``text`` (a ``churn_scores.reasons`` value) rendered with ``t`` in ``lang``.

    Items that are not objects with a text ``key`` are skipped; ``params`` that is not an
    object is taken as none, and a ``contribution`` that is not a number as unknown.
    """
    out: list[RenderedReason] = []
    for item in _items(text):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        raw_params = item.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        contribution = item.get("contribution")
        out.append(
            RenderedReason(
                key=item["key"],
                text=t(item["key"], lang=lang, **params),
                params=params,
                contribution=float(contribution)
                if isinstance(contribution, int | float) and not isinstance(contribution, bool)
                else None,
            )
        )
    return out
