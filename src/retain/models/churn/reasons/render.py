"""Reasons one customer at a time: the rule table read over a row of feature values.

:func:`reason_codes` is the reference the batch path (:mod:`.vectorised`) is checked against:
it ranks each row's families by contribution and takes, strongest first, those whose rule (or
the fallback, for families without one) gives a reason for the row that no reason already taken
says (:data:`.rules.OVERLAPS`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retain.models.churn.reasons.families import family_sums
from retain.models.churn.reasons.rules import (
    BASE_RATE,
    RULES_BY_FAMILY,
    Condition,
    Int,
    Rule,
    Str,
    fallback_reason,
    read_number,
    risk_columns,
    topics,
    value_text,
)
from retain.models.churn.reasons.storage import Reason

__all__ = ["reason_codes", "rule_reason"]

Row = Mapping[str, Any]


def _number(row: Row, name: str) -> float:
    """The feature's value as a rule reads it; NaN when missing."""
    value = read_number(row.get(name))
    return math.nan if value is None else value


def _holds(cond: Condition, row: Row) -> bool:
    if cond.reads_text:
        value = row.get(cond.feature)
        return isinstance(value, str) and cond.text(value)
    other = None if cond.than is None else _number(row, cond.than)
    return bool(cond.number(_number(row, cond.feature), other))


def _param(param: Int | Str, row: Row) -> Any:
    if isinstance(param, Str):
        return str(row.get(param.feature))
    return Int.to_int(param.scale(_number(row, param.feature)))


def rule_reason(rule: Rule, row: Row) -> tuple[str, dict[str, Any]] | None:
    """The message key and parameters ``rule`` gives one row, or None when no variant holds."""
    for v in rule.variants:
        if all(_holds(cond, row) for cond in v.when):
            return v.key, {name: _param(param, row) for name, param in v.params}
    return None


def _render(
    family: str,
    members: Sequence[str],
    contrib: np.ndarray,
    row: Row,
    labels: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    rule = RULES_BY_FAMILY.get(family)
    if rule is not None:
        return rule_reason(rule, row)
    # Profile attributes and features outside the catalog: name the strongest member and its value.
    best = members[int(np.argmax(contrib))]
    value = row.get(best)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return fallback_reason(best, value_text(value), labels)


def reason_codes(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    top: int = 3,
    min_contribution: float = 0.0,
    labels: Mapping[str, str] | None = None,
) -> list[list[Reason]]:
    """The top reasons of each row, strongest first.

    Parameters
    ----------
    contributions : ndarray of shape (n_samples, n_features + 1)
        TreeSHAP output of :meth:`ChurnClassifier.contributions` (last column: the bias).
    features : DataFrame
        The same rows' raw feature values (the parameters of the reasons come from here), with
        the columns in the order the model was trained on.
    top : int
        Most reasons per customer.
    min_contribution : float
        Families contributing this much log-odds or less are not reasons.
    labels : mapping, optional
        Customer attribute columns to the keys they were read from (the model card's
        ``attributes``), so that a reason names the key as the business wrote it.
    """
    names, fam_names, member_idx, sums = family_sums(contributions, features)
    order = np.argsort(-sums, axis=1)
    records: list[dict[str, Any]] = features.to_dict(orient="records")  # type: ignore[assignment]
    out: list[list[Reason]] = []
    risk: dict[str, np.ndarray] | None = None  # computed once, if a row needs the base rate
    for i, row in enumerate(records):
        reasons: list[Reason] = []
        said = 0  # the topics (rules.OVERLAPS) of the reasons given so far
        for k in order[i]:
            value = float(sums[i, k])
            if value <= min_contribution or len(reasons) >= top:
                break
            idx = member_idx[k]
            members = [names[j] for j in idx]
            rendered = _render(fam_names[k], members, contributions[i, idx], row, labels)
            if rendered is None:
                continue
            topic = topics(*rendered)
            if topic & said:  # says what a stronger reason already said
                continue
            said |= topic
            reasons.append(Reason(rendered[0], rendered[1], value))
        if not reasons and top > 0:
            risk = risk if risk is not None else risk_columns(contributions)
            base = rule_reason(BASE_RATE, {**row, **{k: float(v[i]) for k, v in risk.items()}})
            if base is not None:
                reasons.append(Reason(base[0], base[1], float(contributions[i, -1])))
        out.append(reasons)
    return out
