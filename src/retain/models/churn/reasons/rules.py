"""The rule table: how each feature family's contribution to churn is put into words.

One :class:`Rule` per family with its own wording. A rule is an ordered list of variants; the
first variant whose conditions all hold for a customer is that family's reason: its message key (in
``i18n/catalogs/reasons.toml``) and parameters read from the customer's own feature values. No
variant holding means the family has no reason for that customer (its values contradict the
sentence), and the next family is tried.

Both ways of wording reasons read this table: :mod:`.render` one customer at a time, and
:mod:`.vectorised` a whole chunk at once. What each condition and parameter means is defined
once, here, on a value that is a float or a numpy array alike (NaN: missing), so the two paths
cannot drift. Families without a rule (profile columns, customer attributes, features outside the
catalog) name their strongest member and its value: :func:`fallback_reason`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

import numpy as np

from retain.features.attributes import ATTRIBUTE_PREFIX

__all__ = [
    "BASE_RATE",
    "FALLBACK_KEYS",
    "OVERLAPS",
    "PROFILE",
    "RULES",
    "RULES_BY_FAMILY",
    "Condition",
    "Int",
    "Overlap",
    "Rule",
    "Str",
    "Variant",
    "fallback_reason",
    "read_number",
    "risk_columns",
    "topics",
    "value_text",
]

Op = Literal["present", "nonzero", "<", ">=", ">", "==", "text", "text=="]
"""What a :class:`Condition` checks: ``text`` and ``text==`` read a str, the others a number."""

X = TypeVar("X", float, np.ndarray)
"""A feature value: one customer's float, or a chunk's float64 column (NaN: missing)."""

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Condition:
    """One condition on a feature value. A missing value fails every condition.

    ``present``: the value is a number; ``nonzero``: a number other than 0; ``<``, ``>=``,
    ``>``, ``==``: compared with ``value``, or with the feature ``than`` (missing: fails);
    ``text``: a non-empty str; ``text==``: the str ``value``.
    """

    feature: str
    op: Op
    value: float | str | None = None
    than: str | None = None

    def __post_init__(self) -> None:
        if self.op not in get_args(Op):
            raise ValueError(f"unknown condition {self.op!r}")
        compares = self.op in _COMPARE
        if self.than is not None and not compares:
            raise ValueError(f"{self.op!r} compares with no other feature")
        if self.op == "text==" and not isinstance(self.value, str):
            raise ValueError("'text==' needs a str value")
        if compares and self.than is None and not isinstance(self.value, int | float):
            raise ValueError(f"{self.op!r} needs a number or another feature")

    @property
    def reads_text(self) -> bool:
        """Whether the condition reads the value as a str (else as a number)."""
        return self.op in ("text", "text==")

    def number(self, x: X, other: X | None = None) -> Any:
        """The condition on a number ``x`` (``other``: the value of ``than``).

        A bool for a float, a bool array (elementwise) for an array.
        """
        if self.op == "present":
            return x == x  # NaN is the one value unequal to itself
        if self.op == "nonzero":
            return (x == x) & (x != 0)
        return _COMPARE[self.op](x, self.value if self.than is None else other)

    def text(self, value: str) -> bool:
        """The condition on a str value."""
        return value != "" if self.op == "text" else value == self.value


@dataclass(frozen=True)
class Int:
    """An integer parameter: the feature's value times ``times``, rounded half to even.

    A missing value gives 0. ``times=-1`` words a fall as a positive number, ``times=100`` a
    share as a percentage.
    """

    feature: str
    times: float = 1.0

    def scale(self, x: X) -> X:
        """The value before rounding."""
        return x if self.times == 1.0 else x * self.times

    @staticmethod
    def to_int(x: float) -> int:
        """One customer's value as Python rounds it (``round``; NaN: 0)."""
        return 0 if math.isnan(x) else round(x)

    @staticmethod
    def to_int64(x: np.ndarray) -> np.ndarray:
        """A chunk's values as int64, rounded as :meth:`to_int` does (``np.rint`` is half-even)."""
        return np.asarray(np.rint(np.nan_to_num(x, nan=0.0)), dtype=np.int64)


@dataclass(frozen=True)
class Str:
    """A text parameter: the feature's value as a str (used where a ``text`` condition holds)."""

    feature: str


Param = Int | Str


@dataclass(frozen=True)
class Variant:
    """One way a family is worded: the message key, when it applies, what it formats."""

    key: str
    when: tuple[Condition, ...] = ()
    params: tuple[tuple[str, Param], ...] = ()


@dataclass(frozen=True)
class Rule:
    """A family's reason: the first of its variants whose conditions all hold."""

    family: str
    variants: tuple[Variant, ...]
    features: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names: dict[str, None] = {}
        for v in self.variants:
            for cond in v.when:
                names[cond.feature] = None
                if cond.than is not None:
                    names[cond.than] = None
            for _, param in v.params:
                names[param.feature] = None
        object.__setattr__(self, "features", tuple(names))

    @property
    def keys(self) -> tuple[str, ...]:
        """The message keys the rule can give."""
        return tuple(v.key for v in self.variants)


def variant(key: str, *when: Condition, **params: Param) -> Variant:
    """A :class:`Variant`: ``key``, its conditions (all must hold) and its named parameters."""
    return Variant(key, when, tuple(params.items()))


def present(feature: str) -> Condition:
    """The value is a number."""
    return Condition(feature, "present")


def nonzero(feature: str) -> Condition:
    """The value is a number other than 0."""
    return Condition(feature, "nonzero")


def below(feature: str, value: float) -> Condition:
    """The value is less than ``value``."""
    return Condition(feature, "<", value)


def at_least(feature: str, value: float) -> Condition:
    """The value is ``value`` or more."""
    return Condition(feature, ">=", value)


def above(feature: str, value: float | None = None, *, than: str | None = None) -> Condition:
    """The value is more than ``value``, or than the feature ``than``'s value."""
    return Condition(feature, ">", value, than)


def equals(feature: str, value: float) -> Condition:
    """The value is ``value``."""
    return Condition(feature, "==", value)


def non_empty(feature: str) -> Condition:
    """The value is a non-empty str."""
    return Condition(feature, "text")


def text_equals(feature: str, value: str) -> Condition:
    """The value is the str ``value``."""
    return Condition(feature, "text==", value)


def _fell(key: str, change_pct: str) -> Variant:
    """A change in percent that went down, worded as the size of the fall."""
    return variant(key, below(change_pct, 0), pct=Int(change_pct, times=-1))


def _count(family: str, key: str, feature: str) -> Rule:
    """A count that is not zero, worded as itself."""
    return Rule(family, (variant(key, nonzero(feature), n=Int(feature)),))


RULES: tuple[Rule, ...] = (
    Rule(
        "complaints",
        (
            variant(
                "reasons.complaints_unresolved",
                nonzero("complaints_unresolved"),
                n=Int("complaints_unresolved"),
                days=Int("oldest_open_ticket_days"),
            ),
            variant(
                "reasons.tickets_open",
                nonzero("tickets_open"),
                n=Int("tickets_open"),
                days=Int("oldest_open_ticket_days"),
            ),
            variant(
                "reasons.complaints_recent", nonzero("complaints_90d"), n=Int("complaints_90d")
            ),
        ),
    ),
    Rule(
        "payment",
        (
            # The demo plants failures that weigh on churn for 60 days, and the 60-day count
            # is the payment feature the model leans on; the 90-day wording stays for the
            # failures 61-90 days old (and for models trained before the 60-day count).
            variant(
                "reasons.payment_failed_60d",
                nonzero("payment_failures_60d"),
                n=Int("payment_failures_60d"),
                days=Int("days_since_payment_failure"),
            ),
            variant(
                "reasons.payment_failed",
                nonzero("payment_failures_90d"),
                n=Int("payment_failures_90d"),
                days=Int("days_since_payment_failure"),
            ),
        ),
    ),
    Rule(
        "engagement",
        (
            _fell("reasons.usage_down", "events_change_pct"),
            variant(
                "reasons.usage_stopped",
                equals("events_90d", 0),
                present("days_since_last_event"),
                days=Int("days_since_last_event"),
            ),
        ),
    ),
    Rule(
        "contact",
        (
            variant(
                "reasons.no_contact",
                at_least("days_since_contact", 30),
                days=Int("days_since_contact"),
            ),
        ),
    ),
    Rule(
        "orders",
        (
            _fell("reasons.orders_down", "orders_change_pct"),
            # How long ago the last order was is the recency family's reason; this one tells
            # what stopped, so the two never repeat each other ("last order 480 days ago" twice).
            variant(
                "reasons.no_recent_orders_after",
                equals("orders_90d", 0),
                above("orders_total", 1),
                n=Int("orders_total"),
            ),
            variant("reasons.single_order", equals("orders_total", 1)),
        ),
    ),
    Rule(
        "recency",
        (
            variant(
                "reasons.overdue",
                present("days_since_last_order"),
                nonzero("mean_days_between_orders"),
                above("days_since_last_order", than="mean_days_between_orders"),
                days=Int("days_since_last_order"),
                usual=Int("mean_days_between_orders"),
            ),
            variant(
                "reasons.inactive",
                present("days_since_last_order"),
                days=Int("days_since_last_order"),
            ),
        ),
    ),
    Rule("spend", (_fell("reasons.spend_down", "revenue_change_pct"),)),
    Rule(
        "basket",
        (
            variant(
                "reasons.basket_units",
                present("units_per_order"),
                present("largest_order_units"),
                units=Int("units_per_order"),
                largest=Int("largest_order_units"),
            ),
        ),
    ),
    Rule(
        "discount",
        (
            variant(
                "reasons.discount_dependent",
                nonzero("discounted_order_share"),
                pct=Int("discounted_order_share", times=100),
            ),
        ),
    ),
    _count("returns", "reasons.returns", "returns_total"),
    _count("cancel_page", "reasons.cancel_page_visits", "cancel_page_views_90d"),
    Rule(
        "survey",
        (
            variant(
                "reasons.survey_down",
                below("survey_score_change", 0),
                score=Int("survey_last_score"),
                change=Int("survey_score_change", times=-1),
            ),
            variant(
                "reasons.survey_score",
                present("survey_last_score"),
                score=Int("survey_last_score"),
            ),
        ),
    ),
    Rule(
        "subscription",
        (
            variant("reasons.in_trial", nonzero("in_trial")),
            variant(
                "reasons.new_subscriber",
                below("subscription_tenure_days", 180),
                days=Int("subscription_tenure_days"),
            ),
            variant(
                "reasons.cancelled_before",
                nonzero("subscriptions_ended"),
                n=Int("subscriptions_ended"),
            ),
        ),
    ),
    Rule(
        "contract",
        (
            variant(
                "reasons.contract_ending",
                present("days_to_contract_end"),
                days=Int("days_to_contract_end"),
            ),
            variant(
                "reasons.renewal_due",
                present("days_to_renewal"),
                text_equals("billing_period", "year"),
                days=Int("days_to_renewal"),
            ),
            variant("reasons.no_contract"),
        ),
    ),
    Rule(
        "tenure",
        (variant("reasons.new_customer", below("tenure_days", 180), days=Int("tenure_days")),),
    ),
    Rule("plan", (variant("reasons.plan", non_empty("plan"), plan=Str("plan")),)),
    Rule("consent", (variant("reasons.no_email_consent", equals("email_opt_in", 0)),)),
    Rule(
        "p_alive",
        (variant("reasons.low_p_alive", present("p_alive"), pct=Int("p_alive", times=100)),),
    ),
)
"""Every family with its own wording, in no particular order (the contributions rank them)."""

RULES_BY_FAMILY: dict[str, Rule] = {rule.family: rule for rule in RULES}

RISK_LOG_ODDS = "_risk_log_odds"
RISK_PCT = "_risk_pct"
"""The columns :func:`risk_columns` adds for :data:`BASE_RATE` (never features)."""

BASE_RATE = Rule(
    "base_rate",
    (
        variant(
            "reasons.base_rate_tenure",
            above(RISK_LOG_ODDS, 0),
            present("tenure_days"),
            pct=Int(RISK_PCT),
            days=Int("tenure_days"),
        ),
        variant("reasons.base_rate", above(RISK_LOG_ODDS, 0), pct=Int(RISK_PCT)),
    ),
)
"""The reason of a customer whom no family explains (every one under the reason floor).

Such a customer is at risk because most customers with a history like theirs leave: the
model's base rate, moved a little by every feature. Said only where the risk is over 50 %
("most ... leave" must be true), with the tenure where there is one. Both paths give it to a
row left without reasons, with the model's bias (its base rate) as the contribution.
"""


def risk_columns(contributions: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's log-odds of churn (the contributions summed) and that risk in percent.

    Both paths call this on the same matrix, so their sums (and percentages) are the same.
    """
    log_odds = np.asarray(contributions, dtype=np.float64).sum(axis=1)
    return {RISK_LOG_ODDS: log_odds, RISK_PCT: 100.0 / (1.0 + np.exp(-log_odds))}


PROFILE = ("country", "language", "acquisition_channel")
"""Profile columns: each has its own message key, ``reasons.<column>``, with the value."""


def read_number(value: Any) -> float | None:
    """A feature value as a rule reads it: a float, None when missing, NaN or not a number."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def value_text(value: Any) -> str:
    """How a fallback reason words a value: floats to 2 decimals, whole ones without ``.0``."""
    if isinstance(value, float):
        value = round(value, 2)
        if value.is_integer() and abs(value) < 1e15:
            value = int(value)
    return str(value)


def fallback_reason(
    member: str, text: str, labels: Mapping[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """The reason of a family without a rule: its strongest ``member`` and that value's ``text``.

    A profile column, a customer attribute (by its key: ``labels`` maps a column to the key as
    the business wrote it; without it, the column's spelling, where spaces and signs are ``_``)
    or any other feature (by its column name).
    """
    if member in PROFILE:
        return f"reasons.{member}", {"value": text}
    if member.startswith(ATTRIBUTE_PREFIX):
        name = (labels or {}).get(member, member[len(ATTRIBUTE_PREFIX) :])
        return "reasons.attribute", {"name": name, "value": text}
    return "reasons.feature", {"feature": member, "value": text}


FALLBACK_KEYS = (*(f"reasons.{p}" for p in PROFILE), "reasons.attribute", "reasons.feature")
"""The message keys :func:`fallback_reason` can give."""


@dataclass(frozen=True)
class Overlap:
    """Reasons that say the same thing: a customer is given the strongest of them only.

    ``keys`` are message keys (a family's variants, the fallback's ``reasons.plan``...);
    ``attributes`` are customer attribute keys, matched whatever their case and however their
    spaces and signs are spelled (``Contract``, ``contract``).
    """

    topic: str
    keys: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()


def _overlap(topic: str, keys: tuple[str, ...], attributes: tuple[str, ...] = ()) -> Overlap:
    return Overlap(topic, frozenset(keys), frozenset(attributes))


OVERLAPS: tuple[Overlap, ...] = (
    # "a customer for only 31 days", "subscribed only 31 days ago", Telco's "tenure: 1" (months).
    _overlap("tenure", ("reasons.new_customer", "reasons.new_subscriber"), ("tenure",)),
    # "on the Month-to-month plan" and Telco's "Contract: Month-to-month" (its plan column).
    _overlap("plan", ("reasons.plan",), ("Contract",)),
    # "no committed contract term", "contract term ends in 20 days" and the same column.
    _overlap(
        "contract term",
        ("reasons.no_contract", "reasons.contract_ending", "reasons.renewal_due"),
        ("Contract",),
    ),
)
"""THE table of reasons that repeat each other; both paths skip a reason whose topic is taken.

A reason belongs to every topic that lists its key (or, for a customer attribute, its key);
walking a customer's families strongest first, one sharing a topic with a reason already
given is passed over, like a family whose values contradict its sentence.
"""


def _spelling(key: str) -> str:
    """An attribute key as compared: lower case, runs of other than letters and digits as ``_``."""
    return "_".join("".join(c if c.isalnum() else " " for c in key.lower()).split())


_KEY_TOPICS: dict[str, int] = {}
_ATTRIBUTE_TOPICS: dict[str, int] = {}
for _bit, _o in enumerate(OVERLAPS):
    for _k in _o.keys:
        _KEY_TOPICS[_k] = _KEY_TOPICS.get(_k, 0) | 1 << _bit
    for _a in _o.attributes:
        _ATTRIBUTE_TOPICS[_spelling(_a)] = _ATTRIBUTE_TOPICS.get(_spelling(_a), 0) | 1 << _bit


def topics(key: str, params: Mapping[str, Any]) -> int:
    """The topics of a reason (its key and parameters), one bit per entry of :data:`OVERLAPS`."""
    if key == "reasons.attribute":
        return _ATTRIBUTE_TOPICS.get(_spelling(str(params.get("name", ""))), 0)
    return _KEY_TOPICS.get(key, 0)
