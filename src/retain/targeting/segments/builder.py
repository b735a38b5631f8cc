"""The segment builder's rule model: one typed, JSON-serialisable rule, checked when read.

A saved segment is a rule over each customer's columns, attributes, features, scores and
segment memberships. The same model serves the library, the API, the dashboard and the CLI;
its JSON form (docs/segments.md) is what they read and write::

    {
        "all": [
            {"field": "tenure_days", "op": ">=", "value": 90},
            {"field": "segment.rfm", "op": "in", "value": ["at_risk", "cant_lose_them"]},
            {"not": {"field": "country", "op": "=", "value": "JP"}},
            {"event": "login", "at_least": 3, "days": 30},
            {
                "any": [
                    {"field": "clv", "op": "between", "value": [100, 500]},
                    {"field": "attributes.plan", "op": "is_null"},
                ]
            },
            {"segment": "vip customers"},
        ]
    }

:func:`parse_rule` reads that form (a dict, or JSON text) into frozen dataclasses
(:data:`Rule`), checking every field, operator and value against :data:`FIELDS`; a mistake is an
:class:`~retain.errors.InvalidParameterError` whose message starts with its path inside the rule
(``rule.all[2].field: unknown field 'tenur'; did you mean 'tenure_days'?``) and whose code is
``segments.rule``. :func:`rule_to_dict` writes the form back (``parse_rule`` inverts it).
:func:`expand` replaces references to other saved segments by their rules (cycles refused).
Compiling a rule to an Ibis expression is :mod:`~retain.targeting.segments.evaluate`'s job.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from retain.i18n import t
from retain.targeting.segments.fields import (
    ATTRIBUTE_FIELD,
    FEATURE_FIELD,
    FIELDS,
    FieldKind,
    FieldSpec,
    field_spec,
    rule_error,
    show,
    suggest,
)

__all__ = [
    "ATTRIBUTE_FIELD",
    "FEATURE_FIELD",
    "FIELDS",
    "MAX_DAYS",
    "MAX_DEPTH",
    "MAX_LIST",
    "MAX_NODES",
    "OPERATORS",
    "AllOf",
    "AnyOf",
    "Condition",
    "EventCount",
    "FieldKind",
    "FieldSpec",
    "Not",
    "Operator",
    "Rule",
    "SavedRef",
    "expand",
    "field_spec",
    "parse_rule",
    "rule_error",
    "rule_to_dict",
    "rule_to_json",
    "saved_refs",
    "walk",
]

Operator = Literal[
    "=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "is_null", "not_null"
]
OPERATORS: tuple[Operator, ...] = get_args(Operator)

MAX_DEPTH = 12
"""Rules nest at most this deep (``all``/``any``/``not`` levels)."""
MAX_NODES = 500
"""A rule holds at most this many conditions and groups."""
MAX_LIST = 1000
"""``in`` / ``not_in`` take at most this many values."""
MAX_DAYS = 100 * 366
"""Event windows and day counts run from 1 day to a century."""
MAX_TEXT = 200
"""Text values, event names and saved-segment names are at most this long."""
_ORDERING: frozenset[str] = frozenset({"<", "<=", ">", ">=", "between"})
_NULL_OPS: frozenset[str] = frozenset({"is_null", "not_null"})


# -- the rule model ----------------------------------------------------------------------------

Scalar = str | int | float | bool
Value = Scalar | tuple[Scalar, ...] | None


@dataclass(frozen=True)
class Condition:
    """``field op value``: a comparison of one field (``value`` None for the null tests)."""

    field: str
    op: Operator
    value: Value = None


@dataclass(frozen=True)
class EventCount:
    """Customers with at least ``at_least`` events named ``event`` in the ``days`` before."""

    event: str
    at_least: int = 1
    days: int = 30


@dataclass(frozen=True)
class SavedRef:
    """Customers of another saved segment, by name (expanded with :func:`expand`)."""

    name: str


@dataclass(frozen=True)
class AllOf:
    """Customers every one of ``rules`` keeps."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    """Customers any one of ``rules`` keeps."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    """Customers ``rule`` does not keep."""

    rule: Rule


Rule = Condition | EventCount | SavedRef | AllOf | AnyOf | Not
"""A segment rule: a condition, an event count, a saved segment, or a group of rules."""

_KEYS: dict[str, tuple[str, ...]] = {
    "field": ("field", "op", "value"),
    "event": ("event", "at_least", "days"),
    "segment": ("segment",),
    "all": ("all",),
    "any": ("any",),
    "not": ("not",),
}
"""Each node's leading key and every key it takes."""


def _time(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _scalar(spec: FieldSpec, value: object, path: str) -> Scalar:
    """One value of ``spec``'s kind, else an error naming ``path`` and what it takes."""
    ok: bool
    if spec.kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(float(value))  # type: ignore[arg-type]
    elif spec.kind == "days":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DAYS
    elif spec.kind == "bool":
        ok = isinstance(value, bool)
    elif spec.kind == "time":
        ok = _time(value)
    elif spec.kind == "attribute":
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        ok = ok and (isinstance(value, str) or math.isfinite(float(value)))  # type: ignore[arg-type]
    elif spec.kind == "choice":
        if isinstance(value, str) and value not in spec.choices:
            raise rule_error(
                "rule_bad_choice",
                path=path,
                field=spec.name,
                value=show(value),
                choices=", ".join(spec.choices),
                suggestion=suggest(value, spec.choices),
            )
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, str)
    if isinstance(value, str) and len(value) > MAX_TEXT:
        ok = False
    if not ok:
        expected = t(f"segments.rule_kind_{spec.kind}")
        raise rule_error(
            "rule_bad_value", path=path, field=spec.name, expected=expected, value=show(value)
        )
    return value  # type: ignore[return-value]


def _values(spec: FieldSpec, op: str, value: object, path: str) -> Value:
    """``value`` checked for ``op`` on ``spec``: none, one, a list, or a [low, high] pair."""
    if op in _NULL_OPS:
        if value is not None:
            raise rule_error("rule_no_value", path=path, op=op)
        return None
    if spec.pii:
        raise rule_error("rule_pii_field", path=path, field=spec.name)
    if op in _ORDERING and spec.kind in ("bool", "choice"):
        raise rule_error("rule_op_for_kind", path=path, op=op, field=spec.name)
    if op in ("in", "not_in"):
        if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_LIST:
            raise rule_error("rule_needs_list", path=path, op=op, max=MAX_LIST, value=show(value))
        items = tuple(_scalar(spec, v, f"{path}[{i}]") for i, v in enumerate(value))
        _same_type(spec, items, path)
        return items
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise rule_error("rule_bad_between", path=path, value=show(value))
        low, high = (_scalar(spec, v, f"{path}[{i}]") for i, v in enumerate(value))
        _same_type(spec, (low, high), path)
        if _key(low) > _key(high):
            raise rule_error("rule_bad_between", path=path, value=show(value))
        return (low, high)
    if isinstance(value, list | tuple):
        raise rule_error("rule_one_value", path=path, op=op, value=show(value))
    return _scalar(spec, value, path)


def _key(value: Scalar) -> Any:
    """A sort key: times as datetimes, numbers as floats, text as itself."""
    if isinstance(value, str) and _time(value):
        return dt.datetime.fromisoformat(value).replace(tzinfo=None)
    return float(value) if isinstance(value, int | float) else value


def _same_type(spec: FieldSpec, items: tuple[Scalar, ...], path: str) -> None:
    """An attribute's values are all numbers or all text (the comparison reads one way)."""
    if spec.kind == "attribute" and len({isinstance(v, str) for v in items}) > 1:
        raise rule_error("rule_mixed_values", path=path, field=spec.name)


def _count(node: Mapping[str, Any], name: str, default: int, low: int, path: str) -> int:
    value = node.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_DAYS:
        raise rule_error(
            "rule_bad_count", path=f"{path}.{name}", low=low, high=MAX_DAYS, value=show(value)
        )
    return value


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise rule_error("rule_bad_name", path=path, max=MAX_TEXT, value=show(value))
    return value.strip()


class _Reader:
    """Reads one rule, counting its nodes (bounded by :data:`MAX_NODES`)."""

    def __init__(self) -> None:
        self.nodes = 0

    def read(self, data: object, path: str, depth: int) -> Rule:
        if not isinstance(data, Mapping):
            raise rule_error("rule_not_object", path=path, value=show(data))
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise rule_error("rule_too_large", path=path, max=MAX_NODES)
        if depth > MAX_DEPTH:
            raise rule_error("rule_too_deep", path=path, max=MAX_DEPTH)
        leads = [k for k in _KEYS if k in data]
        if len(leads) != 1:
            raise rule_error(
                "rule_which_kind",
                path=path,
                keys=", ".join(map(str, data)) or "-",
                choices=", ".join(_KEYS),
            )
        lead = leads[0]
        for key in data:
            if key not in _KEYS[lead]:
                raise rule_error(
                    "rule_unknown_key",
                    path=f"{path}.{key}",
                    key=key,
                    kind=lead,
                    choices=", ".join(_KEYS[lead]),
                )
        if lead in ("all", "any"):
            items = data[lead]
            if not isinstance(items, list | tuple) or not items:
                raise rule_error("rule_empty_group", path=f"{path}.{lead}", key=lead)
            rules = tuple(
                self.read(item, f"{path}.{lead}[{i}]", depth + 1) for i, item in enumerate(items)
            )
            return AllOf(rules) if lead == "all" else AnyOf(rules)
        if lead == "not":
            return Not(self.read(data["not"], f"{path}.not", depth + 1))
        if lead == "event":
            return EventCount(
                event=_text(data["event"], f"{path}.event"),
                at_least=_count(data, "at_least", 1, 1, path),
                days=_count(data, "days", 30, 1, path),
            )
        if lead == "segment":
            return SavedRef(_text(data["segment"], f"{path}.segment"))
        return self._condition(data, path)

    def _condition(self, data: Mapping[str, Any], path: str) -> Condition:
        name = data["field"]
        if not isinstance(name, str):
            raise rule_error("rule_bad_name", path=f"{path}.field", max=MAX_TEXT, value=show(name))
        spec = field_spec(name, f"{path}.field")
        op = data.get("op", "=")
        if op not in OPERATORS:
            raise rule_error(
                "rule_bad_op",
                path=f"{path}.op",
                op=show(op),
                choices=", ".join(OPERATORS),
                suggestion=suggest(str(op), OPERATORS),
            )
        value = _values(spec, op, data.get("value"), f"{path}.value")
        return Condition(field=name, op=op, value=value)


def parse_rule(data: object, *, path: str = "rule") -> Rule:
    """The rule ``data`` describes (its dict form, or that form as JSON text), checked.

    Raises :class:`~retain.errors.InvalidParameterError` (code ``segments.rule``) naming the
    path of the first mistake, e.g. ``rule.all[2].field``. References to saved segments are
    read, not resolved (see :func:`expand`).
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise rule_error("rule_bad_json", path=path, error=str(exc)) from None
    return _Reader().read(data, path, 0)


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """The rule's JSON-ready dict form (:func:`parse_rule` reads it back to an equal rule)."""
    if isinstance(rule, AllOf):
        return {"all": [rule_to_dict(r) for r in rule.rules]}
    if isinstance(rule, AnyOf):
        return {"any": [rule_to_dict(r) for r in rule.rules]}
    if isinstance(rule, Not):
        return {"not": rule_to_dict(rule.rule)}
    if isinstance(rule, EventCount):
        return {"event": rule.event, "at_least": rule.at_least, "days": rule.days}
    if isinstance(rule, SavedRef):
        return {"segment": rule.name}
    out: dict[str, Any] = {"field": rule.field, "op": rule.op}
    if rule.value is not None:
        out["value"] = list(rule.value) if isinstance(rule.value, tuple) else rule.value
    return out


def rule_to_json(rule: Rule) -> str:
    """The rule as compact JSON text (keys in a fixed order, non-ASCII kept)."""
    return json.dumps(rule_to_dict(rule), ensure_ascii=False, separators=(",", ":"))


def walk(rule: Rule) -> Iterator[Rule]:
    """Every node of ``rule``, depth first, the rule itself first."""
    yield rule
    if isinstance(rule, AllOf | AnyOf):
        for child in rule.rules:
            yield from walk(child)
    elif isinstance(rule, Not):
        yield from walk(rule.rule)


def saved_refs(rule: Rule) -> list[str]:
    """The saved segments ``rule`` names directly, in order, each once."""
    return list(dict.fromkeys(n.name for n in walk(rule) if isinstance(n, SavedRef)))


def expand(
    rule: Rule, resolve: Callable[[str], Rule | None], *, within: tuple[str, ...] = ()
) -> Rule:
    """``rule`` with every saved-segment reference replaced by that segment's rule.

    ``resolve`` returns a saved segment's rule by name, or None when there is none (refused,
    naming it). ``within`` names the segments being expanded (``rule``'s own name, when it has
    one): a reference back to one of them, directly or not, is a cycle and refused too.
    The expanded rule is bounded by :data:`MAX_NODES` like a typed one: segments that refer to
    each other in a diamond would otherwise grow it exponentially with each level.
    """
    return _expand(rule, resolve, within=within, budget=[MAX_NODES])


def _expand(
    rule: Rule,
    resolve: Callable[[str], Rule | None],
    *,
    within: tuple[str, ...],
    budget: list[int],
) -> Rule:
    """:func:`expand` with ``budget[0]`` nodes left to produce (refused once spent)."""
    if not isinstance(rule, SavedRef):
        budget[0] -= 1
        if budget[0] < 0:
            raise rule_error("rule_too_large", path="rule", max=MAX_NODES)
    if isinstance(rule, SavedRef):
        if rule.name in within:
            chain = " -> ".join((*within, rule.name))
            raise rule_error("rule_cycle", path="rule", name=rule.name, chain=chain)
        found = resolve(rule.name)
        if found is None:
            raise rule_error("rule_unknown_saved", path="rule", name=rule.name)
        return _expand(found, resolve, within=(*within, rule.name), budget=budget)
    if isinstance(rule, AllOf):
        return AllOf(tuple(_expand(r, resolve, within=within, budget=budget) for r in rule.rules))
    if isinstance(rule, AnyOf):
        return AnyOf(tuple(_expand(r, resolve, within=within, budget=budget) for r in rule.rules))
    if isinstance(rule, Not):
        return Not(_expand(rule.rule, resolve, within=within, budget=budget))
    return rule
