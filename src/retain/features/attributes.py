"""Customer attributes as churn features: keys of ``customers.attributes`` read in the engine.

A business keeps whatever it knows about a customer that has no canonical column (contract type,
gender, membership rank, payment method...) as a JSON object in ``customers.attributes``; the
ingest recipes put every unmapped source column there. Those keys can carry much of the churn
signal (IBM Telco's contract, internet service and payment method), so the snapshot reads them
too, each as one feature named ``attr_<key>``.

Which keys and of what kind is decided once, at training, from a sample of customers
(:func:`discover_attributes`), and recorded in the model card, so that scoring builds exactly the
same columns. Values are extracted with regular expressions, not JSON functions, so the same
expression runs natively on DuckDB, PySpark and PostgreSQL (Ibis runs JSON access on Spark as a
Python UDF that cannot read what Spark returns).

Attributes hold the customer's *current* state, not the state at each reference date, so a key
that records the outcome (a ``status`` of "cancelled", an export's churn flag) would teach the
model the answer. :func:`outcome_proxies` finds keys that separate churners almost perfectly on
their own; training leaves them out and says so.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from retain.errors import InvalidParameterError
from retain.facts.attributes import PORTABLE_KEY, json_text
from retain.i18n import t

__all__ = [
    "ATTRIBUTE_PREFIX",
    "AttributeFeature",
    "attribute_value",
    "discover_attributes",
    "outcome_proxies",
]

ATTRIBUTE_PREFIX = "attr_"
"""Feature columns made from ``customers.attributes`` start with this."""
SAMPLE_ROWS = 5000
"""Customers read to decide which keys are features (spread evenly over ``customer_id``)."""
MIN_PRESENT = 0.01
"""A key present in fewer sampled customers than this share is too sparse to learn from."""
NUMERIC_SHARE = 0.95
"""A key is numeric when at least this share of its non-blank values read as numbers."""
MAX_CATEGORIES = 100
"""More distinct values than this is free text or an identifier, not a category."""
PROXY_AUC = 0.98
"""A single attribute separating churners this well on its own records the outcome."""
PROXY_MIN_ROWS = 30
"""Categories with fewer rows are pooled when measuring that separation."""

_NUMBER = r"^[-+]?([0-9]{1,200}([.][0-9]{0,200})?|[.][0-9]{1,200})([eE][-+]?[0-9]{1,2})?$"
"""A decimal number that fits a double on every engine (``1e999`` is an error on PostgreSQL
and infinity on DuckDB, so it is no number here)."""
_BLANK = r"[ \t\r\n]"
"""The whitespace JSON allows (``\\s`` also matches Unicode spaces on PostgreSQL only)."""


@dataclass(frozen=True)
class AttributeFeature:
    """One key of ``customers.attributes`` used as a feature."""

    key: str
    """The JSON key."""
    name: str
    """The feature column: ``attr_`` and the key with anything but letters and digits as ``_``."""
    kind: Literal["numeric", "categorical"]

    def to_dict(self) -> dict[str, str]:
        """The form stored in the model card."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttributeFeature:
        """Read back :meth:`to_dict` (a model card's ``attributes`` entry)."""
        kind = data["kind"]
        if kind not in ("numeric", "categorical"):
            raise InvalidParameterError(t("churn.attribute_kind", key=data["key"], kind=kind))
        return cls(str(data["key"]), str(data["name"]), kind)


def attribute_value(attributes: ir.StringValue, feature: AttributeFeature) -> ir.Value:
    """The feature's column: float64 for a numeric key (NULL unless a number), else text."""
    # Not .strip(): Ibis writes TRIM's characters for Spark as '\t\n\r\v\f ', which Spark SQL
    # reads as "tnrvf " and so eats those letters ("false" came back "alse").
    raw = json_text(attributes, feature.key)
    text = raw.re_replace(f"^{_BLANK}+", "").re_replace(f"{_BLANK}+$", "").nullif("")
    if feature.kind == "categorical":
        return text
    return text.re_search(_NUMBER).ifelse(text.cast("float64"), ibis.null("float64"))


_JSON_BLANK = " \t\r\n"


@dataclass
class _KeyStats:
    present: int = 0
    numeric: int = 0
    integral: int = 0
    nested: bool = False
    values: set[str] = field(default_factory=set)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if re.fullmatch(_NUMBER, json.dumps(value)) else None
    if isinstance(value, str) and re.fullmatch(_NUMBER, value.strip(_JSON_BLANK)):
        return float(value.strip(_JSON_BLANK))
    return None


def _stats(texts: Sequence[Any], cap: int) -> tuple[dict[str, _KeyStats], int]:
    stats: dict[str, _KeyStats] = {}
    parsed = 0
    for raw in texts:
        try:
            obj = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            continue
        parsed += 1
        for key, value in obj.items():
            s = stats.setdefault(key, _KeyStats())
            if isinstance(value, dict | list):
                s.nested = True
                continue
            if value is None or (isinstance(value, str) and not value.strip(_JSON_BLANK)):
                continue
            s.present += 1
            number = _as_number(value)
            if number is not None and math.isfinite(number):
                s.numeric += 1
                s.integral += number == int(number)
            if len(s.values) <= cap:
                text = value.strip(_JSON_BLANK) if isinstance(value, str) else json.dumps(value)
                s.values.add(text)
    return stats, parsed


def _name(key: str, taken: set[str]) -> str:
    base = ATTRIBUTE_PREFIX + re.sub(r"\W", "_", key)
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _sample(customers: ir.Table, rows: int) -> list[Any]:
    """Up to ``rows`` customers' attributes, every k-th in ``customer_id`` order.

    Spread over the whole table rather than its first ids, which often encode a segment or an
    era; and the same rows on every engine (a random sample would not be). The ids are ordered
    here, by code point: PostgreSQL orders text by the database's collation (ICU or en_US put
    "c2" before "C3"), so picking in the engine sampled other customers there.
    """
    has = customers.filter(customers.attributes.notnull())
    ids = sorted(set(has.select("customer_id").to_pyarrow()["customer_id"].to_pylist()))
    step = max(1, len(ids) // max(1, rows))
    picked = ids[::step][:rows]
    if not picked:
        return []
    chosen = has.filter(has.customer_id.isin(picked)).select("customer_id", "attributes")
    data = chosen.to_pyarrow()
    by_id = dict(zip(data["customer_id"].to_pylist(), data["attributes"].to_pylist(), strict=True))
    return [by_id[i] for i in picked]


def discover_attributes(
    customers: ir.Table | None,
    *,
    include: Literal["auto"] | Sequence[str] = "auto",
    exclude: Sequence[str] = (),
    sample_rows: int = SAMPLE_ROWS,
) -> tuple[list[AttributeFeature], list[str]]:
    """Which keys of ``customers.attributes`` to use as features, and of what kind. Executes.

    ``include="auto"`` takes every top-level key of ``sample_rows`` customers (every k-th by
    ``customer_id``) that is present for at least 1% of them and is either numeric (95% of its
    non-blank values are numbers; not a run of distinct integers, which is an identifier) or a
    category (2 to 100 distinct values, fewer than half the customers that have it). A list
    names the keys to use whatever their cardinality; a listed key must occur in the sample.

    Returns the features and notes on the keys left out (for the model card).
    """
    if customers is None or "attributes" not in customers.columns:
        return [], []
    texts = _sample(customers, sample_rows)
    stats, parsed = _stats(texts, sample_rows)
    excluded = set(exclude)
    notes: list[str] = []
    if include == "auto":
        keys = [k for k in stats if k not in excluded]
    else:
        keys = [k for k in dict.fromkeys(include) if k not in excluded]
        unknown = [k for k in keys if k not in stats]
        if unknown:
            raise InvalidParameterError(
                t("churn.attribute_unknown", keys=", ".join(unknown), n=parsed),
                hint=t("churn.attribute_unknown_hint", present=", ".join(sorted(stats)) or "-"),
            )
    features: list[AttributeFeature] = []
    taken: set[str] = set()
    explicit = include != "auto"
    for key in keys:
        s = stats[key]
        why = _left_out(key, s, parsed, explicit=explicit)
        if why is not None:
            if explicit:
                raise InvalidParameterError(why, hint=t("churn.attribute_unusable_hint"))
            notes.append(why)
            continue
        kind: Literal["numeric", "categorical"] = (
            "numeric" if s.numeric >= NUMERIC_SHARE * s.present else "categorical"
        )
        features.append(AttributeFeature(key, _name(key, taken), kind))
    return features, notes


def _left_out(key: str, s: _KeyStats, parsed: int, *, explicit: bool) -> str | None:
    """Why ``key`` is not a feature (a translated note), or None when it is one."""
    if not PORTABLE_KEY.fullmatch(key):
        return t("churn.attribute_key", key=key)
    if s.nested and not s.present:
        return t("churn.attribute_nested", key=key)
    if explicit:
        return None
    if s.present < max(1, MIN_PRESENT * parsed):
        return t("churn.attribute_sparse", key=key, n=s.present, total=parsed)
    distinct = len(s.values)
    if distinct < 2:
        return t("churn.attribute_constant", key=key)
    numeric = s.numeric >= NUMERIC_SHARE * s.present
    if numeric and s.integral == s.present and distinct == s.present and s.present >= 50:
        return t("churn.attribute_identifier", key=key)
    if not numeric and (distinct > MAX_CATEGORIES or distinct * 2 > s.present):
        return t("churn.attribute_cardinality", key=key, n=distinct, limit=MAX_CATEGORIES)
    return None


def _separation(values: pd.Series, y: np.ndarray, categorical: bool) -> float | None:
    """ROC AUC of one column on its own, folded so 0.5 is no signal and 1 perfect."""
    from sklearn.metrics import roc_auc_score

    if categorical:
        # Categories scored by their own churn rate, measured on the same rows: a small one
        # separates its few customers perfectly by chance, so those under PROXY_MIN_ROWS are
        # pooled into one.
        keys = values.astype("string").fillna("\u2205").to_numpy()
        sizes = pd.Series(keys).map(pd.Series(keys).value_counts()).to_numpy()
        keys = np.where(sizes < PROXY_MIN_ROWS, "\u2026", keys)
        rate = pd.Series(y).groupby(keys).transform("mean").to_numpy()
        score, target = rate, y
    else:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
        known = ~np.isnan(numbers)
        score, target = numbers[known], y[known]
    if len(target) < 20 or target.min() == target.max():
        return None
    auc = float(roc_auc_score(target, score))
    return max(auc, 1.0 - auc)


def outcome_proxies(
    panel: pd.DataFrame, features: Sequence[AttributeFeature], *, target: str = "churned"
) -> list[tuple[AttributeFeature, float]]:
    """Attributes that separate churners from the others almost perfectly on their own.

    With a folded ROC AUC of :data:`PROXY_AUC` or more, a key is far more likely to record the
    outcome (a status updated when the customer left) than to predict it.
    """
    y = panel[target].to_numpy(dtype="int64")
    found: list[tuple[AttributeFeature, float]] = []
    for feature in features:
        if feature.name not in panel.columns:
            continue
        auc = _separation(panel[feature.name], y, feature.kind == "categorical")
        if auc is not None and auc >= PROXY_AUC:
            found.append((feature, auc))
    return found
