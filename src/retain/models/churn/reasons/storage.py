"""Reasons as the warehouse stores them, and back.

``churn_scores.reasons`` holds, per customer, a JSON list of ``{"key", "params",
"contribution"}``: the message key, its parameters and the family's contribution in log-odds
rounded to 4 decimals. Keys are rendered in the reader's language only at display time, so
the same stored score reads in English, Japanese or Korean.

:func:`reasons_json` writes one customer's list (the batch path writes the same bytes);
:func:`parse_stored_reasons` and :func:`render_stored_reasons` read stored text back, for every
reader (the service, the dashboard, reports) to do it one way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from retain.i18n import get_language, t

if TYPE_CHECKING:
    from retain.models.churn.reasons.labels import Labels

__all__ = [
    "Reason",
    "RenderedReason",
    "parse_stored_reasons",
    "reasons_json",
    "render_stored_reasons",
]


@dataclass(frozen=True)
class Reason:
    """One reason code: a message key, its parameters and the family's contribution (log-odds)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    contribution: float = 0.0

    def render(self, lang: str | None = None, *, labels: Labels | None = None) -> str:
        """The reason in words, in ``lang`` (default: the current language).

        An attribute is named by its label (``labels``, default: :func:`.labels.active_labels`).
        """
        return words(self.key, self.params, lang, labels)

    def as_dict(self) -> dict[str, Any]:
        """``{"key", "params", "contribution"}``: the JSON form stored in ``churn_scores``."""
        return {"key": self.key, "params": self.params, "contribution": round(self.contribution, 4)}


def reasons_json(reasons: Sequence[Reason]) -> str:
    """The ``churn_scores.reasons`` column value: a JSON list of ``{key, params, contribution}``."""
    return json.dumps([r.as_dict() for r in reasons], ensure_ascii=False, separators=(",", ":"))


def json_float(x: float) -> str:
    """``json.dumps`` of a float (``repr``; NaN and infinities as JSON spells them)."""
    return repr(x) if math.isfinite(x) else json.dumps(x)


def words(
    key: str, params: dict[str, Any], lang: str | None = None, labels: Labels | None = None
) -> str:
    """A reason's key and parameters in words; attributes and features by their labels.

    The stored parameters keep the attribute's key and value; only here do they become the
    label ("Contract type: Month-to-month"), or the key humanised where there is none.
    """
    if key not in ("reasons.attribute", "reasons.feature"):
        return t(key, lang=lang, **params)
    from retain.models.churn.reasons.labels import active_labels, attribute_words, humanise

    lang = lang or get_language()
    if key == "reasons.feature":
        shown = dict(params, feature=humanise(str(params.get("feature", ""))))
        return t(key, lang=lang, **shown)
    name, value = attribute_words(
        str(params.get("name", "")), params.get("value", ""), lang, labels or active_labels()
    )
    return t(key, lang=lang, **dict(params, name=name, value=value))


class RenderedReason(TypedDict):
    """A stored reason put into words: what the service and the dashboard show."""

    key: str
    text: str
    params: dict[str, Any]
    contribution: float | None


def _stored_items(stored: object) -> list[tuple[str, dict[str, Any], float | None]]:
    """Key, parameters and contribution (None: not a number) of each well-formed stored item."""
    if not isinstance(stored, str) or not stored:
        return []
    try:
        items = json.loads(stored)
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    out: list[tuple[str, dict[str, Any], float | None]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        params = item.get("params")
        contribution = item.get("contribution")
        out.append(
            (
                item["key"],
                params if isinstance(params, dict) else {},
                float(contribution) if isinstance(contribution, int | float) else None,
            )
        )
    return out


def parse_stored_reasons(stored: object) -> list[Reason]:
    """The reasons of one ``churn_scores.reasons`` value, as :class:`Reason` objects.

    ``stored`` is the column's text as the scoring wrote it (:func:`reasons_json`). Reading is
    forgiving, because a malformed reason must not hide the customer: text that is not a JSON
    list (None, empty, not JSON) gives ``[]``; items that are not objects with a str ``key``
    are skipped; ``params`` that are not an object read as ``{}``; a ``contribution`` that is
    not a number reads as NaN. ``Reason.render(lang)`` then gives each one's words.
    """
    return [
        Reason(key, params, math.nan if contribution is None else contribution)
        for key, params, contribution in _stored_items(stored)
    ]


def render_stored_reasons(
    stored: object, *, lang: str | None = None, labels: Labels | None = None
) -> list[RenderedReason]:
    """One ``churn_scores.reasons`` value put into words in ``lang`` (default: the current one).

    Each reason as ``{"key", "text", "params", "contribution"}``, ``contribution`` None where
    none was stored; what the customer pages, the at-risk list and its CSV export show. Read
    as forgivingly as :func:`parse_stored_reasons` reads. Attributes are named by their
    ``labels`` (default: those in effect, :func:`.labels.active_labels`), looked up now: a
    label added after scoring shows.
    """
    return [
        {
            "key": key,
            "text": words(key, params, lang, labels),
            "params": params,
            "contribution": contribution,
        }
        for key, params, contribution in _stored_items(stored)
    ]
