"""The fields a segment rule may name: their kinds, sources and allowed values.

:data:`FIELDS` is the catalogue the rule model (:mod:`~retain.targeting.segments.builder`)
checks conditions against and :mod:`~retain.targeting.segments.evaluate` compiles; besides
it, ``attributes.<key>`` reads any readable key of ``customers.attributes``. A name that is
not a field is refused naming its path, with the closest field suggested
(:func:`field_spec`). docs/segments.md lists the fields; ``retain segments fields`` prints them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from retain.errors import InvalidParameterError
from retain.facts.attributes import PORTABLE_KEY
from retain.features import FEATURES
from retain.i18n import t
from retain.schema import CUSTOMERS
from retain.targeting.segments.rules import SEGMENT_NAMES

__all__ = [
    "ATTRIBUTE_FIELD",
    "FEATURE_FIELD",
    "FIELDS",
    "FieldKind",
    "FieldSpec",
    "field_spec",
    "rule_error",
    "show",
    "suggest",
]

FieldKind = Literal["text", "number", "days", "time", "bool", "choice", "attribute"]
"""How a field's values read: ``days`` are whole days, ``choice`` one of a closed list."""

ATTRIBUTE_FIELD = "attributes."
"""Fields ``attributes.<key>`` read a key of ``customers.attributes``."""
FEATURE_FIELD = "features."
"""Fields ``features.<name>`` read a churn feature, point in time."""


@dataclass(frozen=True)
class FieldSpec:
    """One field a condition may name: its kind, where it comes from, its allowed values."""

    name: str
    kind: FieldKind
    source: Literal["customer", "score", "clv", "feature", "segment", "attribute"]
    choices: tuple[str, ...] = ()
    pii: bool = False
    """Contact details: only ``is_null`` / ``not_null`` (a rule must not probe their values)."""


def _catalog() -> dict[str, FieldSpec]:
    kinds: dict[str, FieldKind] = {"string": "text", "timestamp": "time", "boolean": "bool"}
    out: dict[str, FieldSpec] = {}
    for col in CUSTOMERS.columns:
        if col.name == "attributes":
            continue
        out[col.name] = FieldSpec(col.name, kinds[col.kind], "customer", pii=col.pii)
    out["tenure_days"] = FieldSpec("tenure_days", "days", "customer")
    out["churn_probability"] = FieldSpec("churn_probability", "number", "score")
    out["risk_band"] = FieldSpec("risk_band", "choice", "score", ("high", "medium", "low"))
    for name in (
        "clv",
        "probability_alive",
        "expected_purchases",
        "probability_order_30d",
        "probability_order_60d",
        "probability_order_90d",
        "at_risk_value",
    ):
        out[name] = FieldSpec(name, "number", "clv")
    for feature in FEATURES:
        name = FEATURE_FIELD + feature.name
        out[name] = FieldSpec(name, "text" if feature.categorical else "number", "feature")
    for scheme, names in SEGMENT_NAMES.items():
        out[f"segment.{scheme}"] = FieldSpec(f"segment.{scheme}", "choice", "segment", names)
    return out


FIELDS: dict[str, FieldSpec] = _catalog()
"""Every field a condition may name, besides ``attributes.<key>`` (docs/segments.md lists them).

Customer columns (current values) and ``tenure_days`` (whole days since ``acquired_at``); the
churn score of the business line evaluated (``churn_probability``, ``risk_band``); the latest
CLV (``clv`` ... ``at_risk_value``); ``features.<name>``, the churn features
(:data:`retain.features.FEATURES`); ``segment.<scheme>``, the stored segment of each scheme.
Scores, features and memberships are read as known on the date the rule is evaluated.
"""


def rule_error(message: str, /, **params: Any) -> InvalidParameterError:
    """An invalid rule: message ``segments.<message>``, the syntax hint, code segments.rule."""
    return InvalidParameterError(
        t(f"segments.{message}", **params), hint=t("segments.rule_hint"), code="segments.rule"
    )


def show(value: object) -> str:
    """``value`` as JSON for a message, cut to 60 characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(name: str, choices: Iterator[str] | list[str] | tuple[str, ...]) -> str:
    """``; did you mean 'x'?`` for the closest of ``choices`` to ``name``, or nothing."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return t("segments.rule_did_you_mean", name=close[0]) if close else ""


def field_spec(name: str, path: str = "rule.field") -> FieldSpec:
    """The spec of field ``name`` (``attributes.<key>`` included), or an error naming ``path``."""
    spec = FIELDS.get(name)
    if spec is not None:
        return spec
    if name.startswith(ATTRIBUTE_FIELD):
        key = name[len(ATTRIBUTE_FIELD) :]
        if not key or not PORTABLE_KEY.fullmatch(key):
            raise rule_error("rule_bad_attribute", path=path, name=name)
        return FieldSpec(name, "attribute", "attribute")
    raise rule_error(
        "rule_unknown_field",
        path=path,
        name=name,
        suggestion=suggest(name, (*FIELDS, "attributes.<key>")),
    )
