"""Per-customer reasons: the model's own TreeSHAP contributions, grouped and put into words.

For each customer, LightGBM's ``pred_contrib`` gives every feature's additive contribution to the
log-odds of churn. Contributions are summed per feature *family* (orders, engagement,
complaints...; see :data:`retain.features.FEATURES`), the families that push the risk up most are
kept, and each becomes a reason code: a message key in ``i18n/catalogs/reasons.toml`` with
parameters taken from the customer's own feature values ("orders down 60% vs the previous 90
days"). Keys render in English, Japanese or Korean at display time with :func:`retain.i18n.t`.

A family whose values do not support its sentence (a positive contribution from "orders" while
orders actually rose) is passed over for the next one, so a reason is never false on its face.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numba import njit

from retain.features import family_of
from retain.features.attributes import ATTRIBUTE_PREFIX
from retain.i18n import t

__all__ = [
    "Reason",
    "family_groups",
    "reason_codes",
    "reasons_json",
    "reasons_json_array",
    "reasons_json_column",
]


@dataclass(frozen=True)
class Reason:
    """One reason code: a message key, its parameters and the family's contribution (log-odds)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    contribution: float = 0.0

    def render(self, lang: str | None = None) -> str:
        """The reason in words, in ``lang`` (default: the current language)."""
        return t(self.key, lang=lang, **self.params)

    def as_dict(self) -> dict[str, Any]:
        """``{"key", "params", "contribution"}``: the JSON form stored in ``churn_scores``."""
        return {"key": self.key, "params": self.params, "contribution": round(self.contribution, 4)}


Row = dict[str, Any]
Renderer = Callable[[Row], tuple[str, dict[str, Any]] | None]


def _num(row: Row, name: str) -> float | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _int(value: float | None) -> int:
    return 0 if value is None else round(value)


def _complaints(r: Row) -> tuple[str, dict[str, Any]] | None:
    unresolved, open_, recent = (
        _num(r, "complaints_unresolved"),
        _num(r, "tickets_open"),
        _num(r, "complaints_90d"),
    )
    days = _int(_num(r, "oldest_open_ticket_days"))
    if unresolved:
        return "reasons.complaints_unresolved", {"n": _int(unresolved), "days": days}
    if open_:
        return "reasons.tickets_open", {"n": _int(open_), "days": days}
    if recent:
        return "reasons.complaints_recent", {"n": _int(recent)}
    return None


def _payment(r: Row) -> tuple[str, dict[str, Any]] | None:
    n = _num(r, "payment_failures_90d")
    if n:
        return "reasons.payment_failed", {
            "n": _int(n),
            "days": _int(_num(r, "days_since_payment_failure")),
        }
    return None


def _down(key: str, name: str) -> Renderer:
    def render(r: Row) -> tuple[str, dict[str, Any]] | None:
        pct = _num(r, name)
        if pct is not None and pct < 0:
            return key, {"pct": _int(-pct)}
        return None

    return render


def _engagement(r: Row) -> tuple[str, dict[str, Any]] | None:
    down = _down("reasons.usage_down", "events_change_pct")(r)
    if down:
        return down
    recent, since = _num(r, "events_90d"), _num(r, "days_since_last_event")
    if recent == 0 and since is not None:
        return "reasons.usage_stopped", {"days": _int(since)}
    return None


def _contact(r: Row) -> tuple[str, dict[str, Any]] | None:
    days = _num(r, "days_since_contact")
    if days is not None and days >= 30:
        return "reasons.no_contact", {"days": _int(days)}
    return None


def _orders(r: Row) -> tuple[str, dict[str, Any]] | None:
    down = _down("reasons.orders_down", "orders_change_pct")(r)
    if down:
        return down
    # How long ago the last order was is the recency family's reason; this one tells what
    # stopped, so the two never repeat each other ("last order 480 days ago" twice).
    total = _num(r, "orders_total")
    if _num(r, "orders_90d") == 0 and total is not None and total > 1:
        return "reasons.no_recent_orders_after", {"n": _int(total)}
    if total == 1:
        return "reasons.single_order", {}
    return None


def _recency(r: Row) -> tuple[str, dict[str, Any]] | None:
    days, gap = _num(r, "days_since_last_order"), _num(r, "mean_days_between_orders")
    if days is None:
        return None
    if gap and days > gap:
        return "reasons.overdue", {"days": _int(days), "usual": _int(gap)}
    return "reasons.inactive", {"days": _int(days)}


def _discount(r: Row) -> tuple[str, dict[str, Any]] | None:
    share = _num(r, "discounted_order_share")
    if share:
        return "reasons.discount_dependent", {"pct": _int(share * 100)}
    return None


def _returns(r: Row) -> tuple[str, dict[str, Any]] | None:
    n = _num(r, "returns_total")
    return ("reasons.returns", {"n": _int(n)}) if n else None


def _cancel_page(r: Row) -> tuple[str, dict[str, Any]] | None:
    n = _num(r, "cancel_page_views_90d")
    return ("reasons.cancel_page_visits", {"n": _int(n)}) if n else None


def _survey(r: Row) -> tuple[str, dict[str, Any]] | None:
    change, last = _num(r, "survey_score_change"), _num(r, "survey_last_score")
    if change is not None and change < 0:
        return "reasons.survey_down", {"score": _int(last), "change": _int(-change)}
    if last is not None:
        return "reasons.survey_score", {"score": _int(last)}
    return None


def _subscription(r: Row) -> tuple[str, dict[str, Any]] | None:
    if _num(r, "in_trial"):
        return "reasons.in_trial", {}
    days = _num(r, "subscription_tenure_days")
    if days is not None and days < 180:
        return "reasons.new_subscriber", {"days": _int(days)}
    if _num(r, "subscriptions_ended"):
        return "reasons.cancelled_before", {"n": _int(_num(r, "subscriptions_ended"))}
    return None


def _contract(r: Row) -> tuple[str, dict[str, Any]] | None:
    days = _num(r, "days_to_contract_end")
    if days is not None:
        return "reasons.contract_ending", {"days": _int(days)}
    renewal = _num(r, "days_to_renewal")
    if renewal is not None and r.get("billing_period") == "year":
        return "reasons.renewal_due", {"days": _int(renewal)}
    return "reasons.no_contract", {}


def _tenure(r: Row) -> tuple[str, dict[str, Any]] | None:
    days = _num(r, "tenure_days")
    if days is not None and days < 180:
        return "reasons.new_customer", {"days": _int(days)}
    return None


def _plan(r: Row) -> tuple[str, dict[str, Any]] | None:
    plan = r.get("plan")
    return ("reasons.plan", {"plan": str(plan)}) if isinstance(plan, str) and plan else None


def _consent(r: Row) -> tuple[str, dict[str, Any]] | None:
    return ("reasons.no_email_consent", {}) if _num(r, "email_opt_in") == 0 else None


def _p_alive(r: Row) -> tuple[str, dict[str, Any]] | None:
    p = _num(r, "p_alive")
    return ("reasons.low_p_alive", {"pct": _int(p * 100)}) if p is not None else None


_RENDERERS: dict[str, Renderer] = {
    "complaints": _complaints,
    "payment": _payment,
    "engagement": _engagement,
    "contact": _contact,
    "orders": _orders,
    "recency": _recency,
    "spend": _down("reasons.spend_down", "revenue_change_pct"),
    "discount": _discount,
    "returns": _returns,
    "cancel_page": _cancel_page,
    "survey": _survey,
    "subscription": _subscription,
    "contract": _contract,
    "tenure": _tenure,
    "plan": _plan,
    "consent": _consent,
    "p_alive": _p_alive,
}
_PROFILE = ("country", "language", "acquisition_channel")


def _render(
    family: str,
    members: Sequence[str],
    contrib: np.ndarray,
    row: Row,
    labels: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    renderer = _RENDERERS.get(family)
    if renderer is not None:
        return renderer(row)
    # Profile attributes and features outside the catalog: name the strongest member and its value.
    best = members[int(np.argmax(contrib))]
    value = row.get(best)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return _fallback(best, _value_text(value), labels)


def _fallback(
    member: str, text: str, labels: Mapping[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """The reason naming ``member`` and its value.

    A profile column, a customer attribute (by its key: ``labels`` maps a column to the key as
    the business wrote it; without it, the column's spelling, where spaces and signs are
    ``_``) or any other feature (by its column name).
    """
    if member in _PROFILE:
        return f"reasons.{member}", {"value": text}
    if member.startswith(ATTRIBUTE_PREFIX):
        name = (labels or {}).get(member, member[len(ATTRIBUTE_PREFIX) :])
        return "reasons.attribute", {"name": name, "value": text}
    return "reasons.feature", {"feature": member, "value": text}


def family_groups(names: Sequence[str]) -> np.ndarray:
    """For each feature, the contribution column it can share for wording reasons.

    The features of a family with its own wording (orders, complaints, payment...) only count
    through their sum, so they can share one column; those of other families (profile,
    attributes, features outside the catalog) each keep their own, because the reason names
    the strongest of them. TreeSHAP summed this way (``TreeEnsemble.contributions(X, groups)``)
    has fewer columns to add into, and ``reasons_json_array(..., groups=...)`` reads it.
    """
    columns: dict[str, int] = {}
    out = np.empty(len(names), dtype=np.int64)
    for j, name in enumerate(names):
        family = family_of(str(name))
        key = family if family in _VARIANTS else f"\0{j}"
        out[j] = columns.setdefault(key, len(columns))
    return out


def _family_sums(
    contributions: np.ndarray, features: pd.DataFrame, groups: np.ndarray | None = None
) -> tuple[list[str], list[str], list[np.ndarray], np.ndarray]:
    """Feature names, family names, each family's column indices and per-family sums.

    With ``groups`` (see :func:`family_groups`), ``contributions`` has one column per group
    (then the bias), already summed.
    """
    names = [str(c) for c in features.columns]
    width = len(names) if groups is None else (int(groups.max()) + 1 if len(groups) else 0)
    if contributions.shape != (len(features), width + 1):
        from retain.errors import InvalidParameterError

        raise InvalidParameterError(
            t(
                "churn.contrib_shape",
                got=str(contributions.shape),
                expected=f"({len(features)}, {width + 1})",
            ),
            hint=t("churn.contrib_shape_hint"),
        )
    families: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        families.setdefault(family_of(name), []).append(j)
    fam_names = list(families)
    member_idx = [np.asarray(families[f]) for f in fam_names]
    if groups is not None:
        family = np.full(width, -1, dtype=np.int64)
        for k, idx in enumerate(member_idx):
            cols = groups[idx]
            if (family[cols] >= 0).any() and (family[cols] != k).any():
                from retain.errors import InvalidParameterError

                raise InvalidParameterError(t("churn.groups_mix", family=fam_names[k]))
            family[cols] = k
        return names, fam_names, member_idx, _sum_families(contributions, family, len(fam_names))
    if contributions.dtype == np.float64 and len(features) >= 2:
        # Same additions in the same order as numpy's ``sum(axis=1)`` below, which adds column by
        # column from 0.0 when there are two rows or more (a single row is summed pairwise).
        family = np.zeros(len(names), dtype=np.int64)
        for k, idx in enumerate(member_idx):
            family[idx] = k
        return names, fam_names, member_idx, _sum_families(contributions, family, len(fam_names))
    sums = np.zeros((len(features), len(fam_names)))
    for k, idx in enumerate(member_idx):
        sums[:, k] = contributions[:, idx].sum(axis=1)
    return names, fam_names, member_idx, sums


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _sum_families(contributions: np.ndarray, family: np.ndarray, n_fam: int) -> np.ndarray:
    """``sums[i, family[j]] += contributions[i, j]`` over the feature columns, left to right."""
    n = contributions.shape[0]
    sums = np.zeros((n, n_fam))
    for i in range(n):
        for j in range(family.shape[0]):
            sums[i, family[j]] += contributions[i, j]
    return sums


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
    names, fam_names, member_idx, sums = _family_sums(contributions, features)
    order = np.argsort(-sums, axis=1)
    records: list[dict[str, Any]] = features.to_dict(orient="records")  # type: ignore[assignment]
    out: list[list[Reason]] = []
    for i, row in enumerate(records):
        reasons: list[Reason] = []
        for k in order[i]:
            value = float(sums[i, k])
            if value <= min_contribution or len(reasons) >= top:
                break
            idx = member_idx[k]
            members = [names[j] for j in idx]
            rendered = _render(fam_names[k], members, contributions[i, idx], row, labels)
            if rendered is not None:
                reasons.append(Reason(rendered[0], rendered[1], value))
        out.append(reasons)
    return out


def reasons_json(reasons: Sequence[Reason]) -> str:
    """The ``churn_scores.reasons`` column value: a JSON list of ``{key, params, contribution}``."""
    return json.dumps([r.as_dict() for r in reasons], ensure_ascii=False, separators=(",", ":"))


# -- the same reasons, vectorised over a whole chunk ---------------------------------------------
#
# Batch scoring words the reasons of every customer; doing that row by row in Python costs more
# than the trees. Below, each family's renderer is restated as *variants* over whole columns: an
# ordered list of (message key, mask, parameter columns), the first variant whose mask holds being
# the row's reason, exactly as the per-row renderers above decide it. Every constant piece of
# text (each variant's ``{"key":...,"params":{`` head, string parameter values, the heads of profile
# attributes) is encoded once per chunk; two compiled kernels then pick each row's top families and
# write the JSON bytes straight into an Arrow string column (no Python loop per row).
# ``tests/models/churn/test_reasons.py`` checks both paths give identical JSON.


class _Strings:
    """A string parameter column: ``texts[codes[i]]`` is row ``i``'s value (``-1``: none)."""

    def __init__(self, codes: np.ndarray, texts: list[str]) -> None:
        self.codes = codes
        self.texts = texts


Param = tuple[str, np.ndarray | _Strings]
"""A parameter name and its column: int64 (rounded like :func:`_int`) or strings."""
Variant = tuple[str, np.ndarray, list[Param]]


class _Columns:
    """Feature columns of one chunk as float64 (NaN where :func:`_num` gives None), cached."""

    def __init__(self, features: pd.DataFrame) -> None:
        self.features = features
        self.n = len(features)
        self._cache: dict[str, np.ndarray] = {}

    def num(self, name: str) -> np.ndarray:
        if name in self._cache:
            return self._cache[name]
        if name not in self.features.columns:
            out = np.full(self.n, np.nan)
        else:
            s = self.features[name]
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                out = s.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                values = [_num({name: v}, name) for v in s.tolist()]
                out = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        self._cache[name] = out
        return out

    def strings(self, name: str) -> tuple[np.ndarray, list[str]] | None:
        """The column's str values as codes into their distinct texts (-1: not a str), or None."""
        if name not in self.features.columns:
            return None
        column = self.features[name]
        try:
            codes, uniques = pd.factorize(column)
        except TypeError:  # unhashable values
            keys: dict[str, int] = {}
            found = [keys.setdefault(v, len(keys)) if isinstance(v, str) else -1 for v in column]
            return np.array(found, dtype=np.int64), [str(v) for v in keys]
        # A str only equals a str, so a str's code is shared with equal strs alone.
        texts = [str(u) for u in uniques if isinstance(u, str)]
        remap = np.cumsum([isinstance(u, str) for u in uniques], dtype=np.int64) - 1
        remap = np.where([isinstance(u, str) for u in uniques], remap, -1)
        lookup = np.append(remap.astype(np.int64), -1)  # code -1 (missing) stays -1
        return lookup[codes], texts


def _ints(values: np.ndarray) -> np.ndarray:
    """:func:`_int` over a column: half-to-even rounding, NaN -> 0."""
    return np.asarray(np.rint(np.nan_to_num(values, nan=0.0)), dtype=np.int64)


def _nz(values: np.ndarray) -> np.ndarray:
    """Truthiness of :func:`_num`: present and non-zero."""
    return np.asarray(~np.isnan(values) & (values != 0), dtype=bool)


def _present(values: np.ndarray) -> np.ndarray:
    return np.asarray(~np.isnan(values), dtype=bool)


def _v_down(key: str, name: str) -> Callable[[_Columns], list[Variant]]:
    def variants(c: _Columns) -> list[Variant]:
        pct = c.num(name)
        return [(key, _present(pct) & (pct < 0), [("pct", _ints(-pct))])]

    return variants


def _v_complaints(c: _Columns) -> list[Variant]:
    unresolved, open_ = c.num("complaints_unresolved"), c.num("tickets_open")
    recent = c.num("complaints_90d")
    days = _ints(c.num("oldest_open_ticket_days"))
    return [
        (
            "reasons.complaints_unresolved",
            _nz(unresolved),
            [("n", _ints(unresolved)), ("days", days)],
        ),
        ("reasons.tickets_open", _nz(open_), [("n", _ints(open_)), ("days", days)]),
        ("reasons.complaints_recent", _nz(recent), [("n", _ints(recent))]),
    ]


def _v_payment(c: _Columns) -> list[Variant]:
    n = c.num("payment_failures_90d")
    days = _ints(c.num("days_since_payment_failure"))
    return [("reasons.payment_failed", _nz(n), [("n", _ints(n)), ("days", days)])]


def _v_engagement(c: _Columns) -> list[Variant]:
    recent, since = c.num("events_90d"), c.num("days_since_last_event")
    return [
        *_v_down("reasons.usage_down", "events_change_pct")(c),
        ("reasons.usage_stopped", (recent == 0) & _present(since), [("days", _ints(since))]),
    ]


def _v_contact(c: _Columns) -> list[Variant]:
    days = c.num("days_since_contact")
    return [("reasons.no_contact", _present(days) & (days >= 30), [("days", _ints(days))])]


def _v_orders(c: _Columns) -> list[Variant]:
    total = c.num("orders_total")
    return [
        *_v_down("reasons.orders_down", "orders_change_pct")(c),
        (
            "reasons.no_recent_orders_after",
            (c.num("orders_90d") == 0) & (total > 1),
            [("n", _ints(total))],
        ),
        ("reasons.single_order", total == 1, []),
    ]


def _v_recency(c: _Columns) -> list[Variant]:
    days, gap = c.num("days_since_last_order"), c.num("mean_days_between_orders")
    has = _present(days)
    return [
        (
            "reasons.overdue",
            has & _nz(gap) & (days > gap),
            [("days", _ints(days)), ("usual", _ints(gap))],
        ),
        ("reasons.inactive", has, [("days", _ints(days))]),
    ]


def _v_discount(c: _Columns) -> list[Variant]:
    share = c.num("discounted_order_share")
    return [("reasons.discount_dependent", _nz(share), [("pct", _ints(share * 100))])]


def _v_count(key: str, name: str) -> Callable[[_Columns], list[Variant]]:
    def variants(c: _Columns) -> list[Variant]:
        n = c.num(name)
        return [(key, _nz(n), [("n", _ints(n))])]

    return variants


def _v_survey(c: _Columns) -> list[Variant]:
    change, last = c.num("survey_score_change"), c.num("survey_last_score")
    return [
        (
            "reasons.survey_down",
            _present(change) & (change < 0),
            [("score", _ints(last)), ("change", _ints(-change))],
        ),
        ("reasons.survey_score", _present(last), [("score", _ints(last))]),
    ]


def _v_subscription(c: _Columns) -> list[Variant]:
    days, ended = c.num("subscription_tenure_days"), c.num("subscriptions_ended")
    return [
        ("reasons.in_trial", _nz(c.num("in_trial")), []),
        ("reasons.new_subscriber", _present(days) & (days < 180), [("days", _ints(days))]),
        ("reasons.cancelled_before", _nz(ended), [("n", _ints(ended))]),
    ]


def _v_contract(c: _Columns) -> list[Variant]:
    days, renewal = c.num("days_to_contract_end"), c.num("days_to_renewal")
    period = c.strings("billing_period")
    if period is None:
        yearly = np.zeros(c.n, dtype=bool)
    else:
        codes, texts = period
        yearly = np.array([*(t == "year" for t in texts), False], dtype=bool)[codes]
    return [
        ("reasons.contract_ending", _present(days), [("days", _ints(days))]),
        ("reasons.renewal_due", _present(renewal) & yearly, [("days", _ints(renewal))]),
        ("reasons.no_contract", np.ones(c.n, dtype=bool), []),
    ]


def _v_tenure(c: _Columns) -> list[Variant]:
    days = c.num("tenure_days")
    return [("reasons.new_customer", _present(days) & (days < 180), [("days", _ints(days))])]


def _v_plan(c: _Columns) -> list[Variant]:
    plan = c.strings("plan")
    if plan is None:
        return [("reasons.plan", np.zeros(c.n, dtype=bool), [])]
    codes, texts = plan
    ok = np.array([*(bool(t) for t in texts), False], dtype=bool)[codes]  # code -1: False
    return [("reasons.plan", ok, [("plan", _Strings(codes, texts))])]


def _v_consent(c: _Columns) -> list[Variant]:
    return [("reasons.no_email_consent", c.num("email_opt_in") == 0, [])]


def _v_p_alive(c: _Columns) -> list[Variant]:
    p = c.num("p_alive")
    return [("reasons.low_p_alive", _present(p), [("pct", _ints(p * 100))])]


_VARIANTS: dict[str, Callable[[_Columns], list[Variant]]] = {
    "complaints": _v_complaints,
    "payment": _v_payment,
    "engagement": _v_engagement,
    "contact": _v_contact,
    "orders": _v_orders,
    "recency": _v_recency,
    "spend": _v_down("reasons.spend_down", "revenue_change_pct"),
    "discount": _v_discount,
    "returns": _v_count("reasons.returns", "returns_total"),
    "cancel_page": _v_count("reasons.cancel_page_visits", "cancel_page_views_90d"),
    "survey": _v_survey,
    "subscription": _v_subscription,
    "contract": _v_contract,
    "tenure": _v_tenure,
    "plan": _v_plan,
    "consent": _v_consent,
    "p_alive": _v_p_alive,
}


def _json_float(x: float) -> str:
    """``json.dumps`` of a float (``repr``; NaN and infinities as JSON spells them)."""
    return repr(x) if math.isfinite(x) else json.dumps(x)


def _value_text(value: Any) -> str:
    """How :func:`_render` words the value of a profile attribute or an uncatalogued feature.

    Floats to 2 decimals, whole ones without ``.0`` (a tenure of 3, not 3.0).
    """
    if isinstance(value, float):
        value = round(value, 2)
        if value.is_integer() and abs(value) < 1e15:
            value = int(value)
    return str(value)


def _fallback_head(member: str, text: str, labels: Mapping[str, str] | None) -> str:
    """``{"key":...,"params":{...`` of such a reason, up to (not including) the params' ``}``."""
    key, params = _fallback(member, text, labels)
    head = json.dumps({"key": key, "params": params}, ensure_ascii=False, separators=(",", ":"))
    return head[:-2]


class _Member:
    """One member column of a family without a renderer.

    Which rows are missing (``isna``) and, for the rows that need it, codes into the texts
    :func:`_value_text` gives their values.
    """

    def __init__(self, column: pd.Series) -> None:
        self.column = column
        self.codes: np.ndarray | None = None
        self.texts: list[str] = []
        dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
            self.values: np.ndarray | None = column.to_numpy()
            self.missing = (
                np.isnan(self.values) if dtype.kind == "f" else np.zeros(len(column), bool)
            )
            return
        self.values = None
        try:
            codes, uniques = pd.factorize(column)
        except TypeError:  # unhashable values
            self.missing = column.isna().to_numpy(dtype=bool)
            return
        self.missing = np.asarray(codes < 0)
        values = list(uniques)
        if all(type(v) is str for v in values):  # exact: a str only equals an equal str
            self.codes, self.texts = np.asarray(codes, dtype=np.int64), values

    def text_codes(self, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Codes of ``rows`` (none missing) into a list of value texts."""
        if self.codes is not None:
            return self.codes[rows], self.texts
        if self.values is not None:
            values = self.values[rows]
            if values.dtype.kind == "f":  # by bit pattern: 0.0 and -0.0 read differently
                codes, uniques = pd.factorize(values.view(f"i{values.dtype.itemsize}"))
                uniques = np.asarray(uniques).view(values.dtype)
            else:
                codes, uniques = pd.factorize(values)
            return np.asarray(codes, np.int64), [
                _value_text(v) for v in np.asarray(uniques).tolist()
            ]
        # Mixed or unhashable objects: word every row, as the per-row path does.
        texts = [_value_text(v) for v in self.column.iloc[rows].tolist()]
        codes, uniques = pd.factorize(np.array(texts, dtype=object))
        return np.asarray(codes, np.int64), list(uniques)


class _Pieces:
    """Constant pieces of JSON text, each UTF-8 encoded once, indexed by number."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.index: dict[str, int] = {}

    def add(self, text: str) -> int:
        at = self.index.get(text)
        if at is None:
            at = self.index[text] = len(self.parts)
            self.parts.append(text.encode())
        return at

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All pieces in one uint8 array, and where each starts (one more: the end)."""
        starts = np.zeros(len(self.parts) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in self.parts], out=starts[1:])
        return np.frombuffer(b"".join(self.parts), dtype=np.uint8), starts


_CLOSE = '},"contribution":'
"""Piece 0: closes a reason's params and opens its contribution."""
_SPECIAL = 1e9
"""Contributions this large, and NaN or infinities, are worded by Python instead of the kernel."""


@njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _reason_of(
    i: int,
    k: int,
    contributions: np.ndarray,
    masks: np.ndarray,
    fam_var: np.ndarray,
    fb_lo: np.ndarray,
    fb_hi: np.ndarray,
    fb_cols: np.ndarray,
    fb_missing: np.ndarray,
) -> tuple[int, int]:
    """Row ``i``'s variant of family ``k`` (-1: none) and the slot of its strongest member.

    The slot is -1 unless the family has no renderer.
    """
    chosen = -1
    arg = -1
    for g in range(fam_var[k + 1] - 1, fam_var[k] - 1, -1):  # the first variant that holds
        lo, hi = fb_lo[g], fb_hi[g]
        if lo == hi:
            chosen = g if masks[i, g] else chosen
            continue
        # No renderer: the strongest member (as np.argmax: the first NaN, else the first max).
        arg = lo
        best = contributions[i, fb_cols[lo]]
        if best == best:
            for s in range(lo + 1, hi):
                x = contributions[i, fb_cols[s]]
                if x != x:
                    arg = s
                    break
                if x > best:
                    arg, best = s, x
        chosen = -1 if fb_missing[i, arg + 1] else g
    return chosen, arg


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _pick(
    sums: np.ndarray,
    contributions: np.ndarray,
    masks: np.ndarray,
    fam_var: np.ndarray,
    fb_lo: np.ndarray,
    fb_hi: np.ndarray,
    fb_cols: np.ndarray,
    fb_missing: np.ndarray,
    top: int,
    floor: float,
    rows: np.ndarray,
    order: np.ndarray,
    n_picks: np.ndarray,
    pick_var: np.ndarray,
    pick_arg: np.ndarray,
    pick_val: np.ndarray,
    tied: np.ndarray,
) -> int:
    """Each row's reasons, strongest family first, as :func:`reason_codes` picks them.

    Without ``rows`` (empty), every row: the families above the floor that have a reason for
    the row are sorted, and the first ``top`` taken. Families without a reason are passed over
    wherever they rank, so only equal sums among the others can change the result: a row
    where two of those the walk reaches are equal is only marked in ``tied`` (equal sums come
    in the order ``np.argsort`` gives them, which the caller computes). With ``rows``, those
    rows, walking their families in ``order``. Returns how many picked contributions Python
    has to word (see :data:`_SPECIAL`).
    """
    n, n_fam = sums.shape
    special = 0
    ordered = rows.shape[0] > 0
    values = np.empty(n_fam)
    variants = np.empty(n_fam, dtype=np.int64)
    args = np.empty(n_fam, dtype=np.int64)
    for r in range(rows.shape[0] if ordered else n):
        i = rows[r] if ordered else r
        count = 0
        if ordered:
            for p in range(n_fam):
                k = order[r, p]
                value = sums[i, k]
                if value <= floor or count >= top:
                    break
                g, arg = _reason_of(
                    i, k, contributions, masks, fam_var, fb_lo, fb_hi, fb_cols, fb_missing
                )
                if g >= 0:
                    pick_var[i, count], pick_arg[i, count], pick_val[i, count] = g, arg, value
                    special += not abs(value) < _SPECIAL
                    count += 1
            n_picks[i] = count
            continue
        # The families above the floor (NaN too) with a reason, strongest first (NaN last).
        m = 0
        low = False
        nans = 0
        for k in range(n_fam):
            x = sums[i, k]
            if x <= floor:
                low = True
                continue
            g, arg = _reason_of(
                i, k, contributions, masks, fam_var, fb_lo, fb_hi, fb_cols, fb_missing
            )
            if g < 0:
                continue
            p = m
            while p > 0 and (x > values[p - 1] or (values[p - 1] != values[p - 1] and x == x)):
                values[p], variants[p], args[p] = values[p - 1], variants[p - 1], args[p - 1]
                p -= 1
            values[p], variants[p], args[p] = x, g, arg
            m += 1
            nans += x != x
        if low:  # NaN ranks last: the walk stops at a family below the floor before any NaN
            m -= nans
        count = min(m, top)
        for p in range(min(count, m - 1)):  # up to the first one left out
            a, b = values[p], values[p + 1]
            if a == b or (a != a and b != b):
                tied[i] = True
                count = 0
        for p in range(count):
            pick_var[i, p], pick_arg[i, p], pick_val[i, p] = variants[p], args[p], values[p]
            special += not abs(values[p]) < _SPECIAL
        n_picks[i] = count
    return special


@njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _put(buf: np.ndarray, pos: int, pieces: np.ndarray, starts: np.ndarray, piece: int) -> int:
    """Copy a piece to ``buf[pos:]``; returns the next position.

    Indices here are unsigned: numba then skips its negative-index checks, twice as fast.
    """
    lo = np.uint64(starts[piece])
    size = np.uint64(starts[piece + 1]) - lo
    at = np.uint64(pos)
    for q in range(size):
        buf[at + q] = pieces[lo + q]
    return pos + int(size)


@njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _put_int(buf: np.ndarray, pos: int, value: int) -> int:
    """Decimal digits of an int64, as ``str(int)``."""
    u = np.uint64(value)
    if value < 0:
        buf[np.uint64(pos)] = 45  # -
        pos += 1
        u = np.uint64(0) - u
    digits = 1
    t = u
    while t >= np.uint64(10):
        t //= np.uint64(10)
        digits += 1
    at = np.uint64(pos + digits)
    for _ in range(digits):
        at -= np.uint64(1)
        buf[at] = np.uint8(48) + np.uint8(u % np.uint64(10))
        u //= np.uint64(10)
    return pos + digits


@njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _put_round4(buf: np.ndarray, pos: int, x: float) -> int:
    """``repr(round(x, 4))`` for finite ``|x| < _SPECIAL``.

    ``round`` rounds the exact binary value of ``x`` to 4 decimals, half to even; ``repr`` of the
    result is that decimal, trailing zeros dropped (at most 14 significant digits here, so it
    is the shortest text that reads back as the same float). ``x * 10**4`` is exactly
    ``mantissa * 625 * 2**(exponent + 4)``, an integer times a power of two in int64.
    """
    if math.copysign(1.0, x) < 0:
        buf[np.uint64(pos)] = 45  # -
        pos += 1
    a = abs(x)
    m = 0
    if a != 0:
        frac, exp = math.frexp(a)  # a = frac * 2**exp, 0.5 <= frac < 1
        big = np.int64(frac * 9007199254740992.0) * 625  # frac * 2**53 is an integer < 2**53
        shift = exp - 53 + 4
        if shift >= 0:
            m = int(big << shift)
        elif shift >= -63:  # below that, a * 10**4 < 2**63 / 2**64 rounds to 0
            q = big >> -shift if shift > -63 else np.int64(0)
            rest = big - (q << -shift) if shift > -63 else big
            half = np.int64(1) << (-shift - 1)
            if rest > half or (rest == half and q & 1):
                q += 1
            m = int(q)
    pos = _put_int(buf, pos, m // 10000)
    buf[np.uint64(pos)] = 46  # .
    pos += 1
    frac4 = m % 10000
    digits = 4
    while digits > 1 and frac4 % 10 == 0:
        frac4 //= 10
        digits -= 1
    at = np.uint64(pos + digits)
    for _ in range(digits):
        at -= np.uint64(1)
        buf[at] = np.uint8(48 + frac4 % 10)
        frac4 //= 10
    return pos + digits


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _write(
    n_picks: np.ndarray,
    pick_var: np.ndarray,
    pick_val: np.ndarray,
    pick_piece: np.ndarray,
    pick_text: np.ndarray,
    pieces: np.ndarray,
    starts: np.ndarray,
    var_head: np.ndarray,
    var_par: np.ndarray,
    par_prefix: np.ndarray,
    par_kind: np.ndarray,
    par_col: np.ndarray,
    ints: np.ndarray,
    strs: np.ndarray,
    str_base: np.ndarray,
    row_bound: int,
    capacity: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's JSON list of reasons as UTF-8 bytes, and each row's end offset.

    A pick's text is ``pick_piece`` (a whole head) or the variant's head and parameters (int64
    digits, or a string piece), then piece 0, then ``pick_text`` or the rounded contribution,
    then ``}``. ``row_bound`` bounds the bytes of one row.
    """
    n = n_picks.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    buf = np.empty(max(capacity, row_bound), dtype=np.uint8)
    pos = 0
    for i in range(n):
        if pos + row_bound > buf.shape[0]:
            grown = np.empty(max(2 * buf.shape[0], pos + row_bound), dtype=np.uint8)
            grown[:pos] = buf[:pos]
            buf = grown
        buf[pos] = 91  # [
        pos += 1
        for s in range(n_picks[i]):
            if s:
                buf[pos] = 44  # ,
                pos += 1
            if pick_piece[i, s] >= 0:
                pos = _put(buf, pos, pieces, starts, pick_piece[i, s])
            else:
                g = pick_var[i, s]
                pos = _put(buf, pos, pieces, starts, var_head[g])
                for p in range(var_par[g], var_par[g + 1]):
                    pos = _put(buf, pos, pieces, starts, par_prefix[p])
                    c = par_col[p]
                    if par_kind[p] == 0:
                        pos = _put_int(buf, pos, ints[i, c])
                    else:
                        pos = _put(buf, pos, pieces, starts, str_base[c] + strs[i, c])
            pos = _put(buf, pos, pieces, starts, 0)
            if pick_text[i, s] >= 0:
                pos = _put(buf, pos, pieces, starts, pick_text[i, s])
            else:
                pos = _put_round4(buf, pos, pick_val[i, s])
            buf[pos] = 125  # }
            pos += 1
        buf[pos] = 93  # ]
        pos += 1
        offsets[i + 1] = pos
    return buf[:pos], offsets


def reasons_json_array(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    top: int = 3,
    min_contribution: float = 0.0,
    groups: np.ndarray | None = None,
    labels: Mapping[str, str] | None = None,
) -> pa.Array:
    """The ``churn_scores.reasons`` value of every row, as an Arrow string array.

    Gives exactly ``[reasons_json(r) for r in reason_codes(contributions, features, ...)]``
    (same families, same order, same parameters and text): the rules are vectorised over the
    chunk as variants, and compiled kernels rank the families and write the JSON bytes.
    A ``pyarrow.StringArray``, or a ``LargeStringArray`` past 2 GiB of text. ``labels`` as
    in :func:`reason_codes`. With ``groups``
    (:func:`family_groups`), ``contributions`` are already summed per group; the reasons are
    the same up to the order in which the sums were added.
    """
    names, fam_names, member_idx, sums = _family_sums(contributions, features, groups)
    n, n_fam = sums.shape
    if n == 0:
        return pa.array([], pa.string())
    cols = _Columns(features)
    pieces = _Pieces()
    pieces.add(_CLOSE)
    fam_var: list[int] = [0]
    var_head: list[int] = []
    var_par: list[int] = [0]
    par_prefix: list[int] = []
    par_kind: list[int] = []
    par_col: list[int] = []
    fb_lo: list[int] = []
    fb_hi: list[int] = []
    members: list[int] = []
    masks: list[np.ndarray | None] = []
    int_cols: dict[int, int] = {}
    ints: list[np.ndarray] = []
    str_cols: dict[int, int] = {}
    strs: list[np.ndarray] = []
    str_base: list[int] = []
    for k, family in enumerate(fam_names):
        make = _VARIANTS.get(family)
        if make is None:
            # Profile attributes and features outside the catalog: the strongest member's value.
            var_head.append(-1)
            var_par.append(var_par[-1])
            fb_lo.append(len(members))
            members.extend(int(j) for j in member_idx[k])
            fb_hi.append(len(members))
            masks.append(None)
        for key, mask, params in make(cols) if make is not None else []:
            head = '{"key":' + json.dumps(key, ensure_ascii=False) + ',"params":{'
            var_head.append(pieces.add(head))
            for p, (name, column) in enumerate(params):
                par_prefix.append(pieces.add(("," if p else "") + json.dumps(name) + ":"))
                if isinstance(column, _Strings):
                    if id(column) not in str_cols:
                        str_cols[id(column)] = len(strs)
                        strs.append(column.codes)
                        quoted = [json.dumps(x, ensure_ascii=False) for x in column.texts]
                        str_base.append(len(pieces.parts))
                        pieces.parts.extend(x.encode() for x in quoted)  # in code order
                    par_kind.append(1)
                    par_col.append(str_cols[id(column)])
                else:
                    if id(column) not in int_cols:
                        int_cols[id(column)] = len(ints)
                        ints.append(column)
                    par_kind.append(0)
                    par_col.append(int_cols[id(column)])
            var_par.append(len(par_prefix))
            fb_lo.append(0)
            fb_hi.append(0)
            masks.append(mask)
        fam_var.append(len(var_head))

    # Row-major tables (one row per customer): a row's masks and values share cache lines.
    no = np.zeros(n, dtype=np.bool_)
    mask_rows = np.stack([no if m is None else m for m in masks], axis=1)
    fallback = [_Member(features.iloc[:, j]) for j in members]
    fb_missing = np.stack([no, *(m.missing for m in fallback)], axis=1)
    families = (
        contributions,
        mask_rows,
        np.asarray(fam_var, dtype=np.int64),
        np.asarray(fb_lo, dtype=np.int64),
        np.asarray(fb_hi, dtype=np.int64),
        np.asarray(members if groups is None else groups[members], dtype=np.int64),
        fb_missing,
    )
    width = max(0, min(int(top), n_fam))
    floor = float(min_contribution)
    n_picks = np.zeros(n, dtype=np.int64)
    pick_var = np.zeros((n, width), dtype=np.int64)
    pick_arg = np.full((n, width), -1, dtype=np.int64)
    pick_val = np.zeros((n, width))
    tied = np.zeros(n, dtype=np.bool_)
    none = np.zeros(0, dtype=np.int64)
    picked = (n_picks, pick_var, pick_arg, pick_val, tied)
    special = _pick(sums, *families, width, floor, none, none.reshape(0, 0), *picked)
    if tied.any():
        # Equal sums: take the order np.argsort gives them, as reason_codes does.
        rows = np.flatnonzero(tied)
        order = np.argsort(-sums[rows], axis=1)
        special += _pick(sums, *families, width, floor, rows, order, *picked)

    pick_piece = np.full((n, width), -1, dtype=np.int64)
    pick_text = np.full((n, width), -1, dtype=np.int64)
    if special:
        taken = np.arange(width) < n_picks[:, None]
        for i, s in zip(*np.nonzero(taken & ~(np.abs(pick_val) < _SPECIAL)), strict=True):
            pick_text[i, s] = pieces.add(_json_float(round(float(pick_val[i, s]), 4)))
    if members:
        at_i, at_s = np.nonzero(pick_arg >= 0)
        slot = pick_arg[at_i, at_s]
        for s in np.unique(slot).tolist():
            here = slot == s
            rows = at_i[here]
            codes, texts = fallback[s].text_codes(rows)
            member = names[members[s]]
            heads = np.full(len(texts), -1, dtype=np.int64)
            for c in np.unique(codes).tolist():
                heads[c] = pieces.add(_fallback_head(member, texts[c], labels))
            pick_piece[rows, at_s[here]] = heads[codes]

    blob, starts = pieces.arrays()
    longest = int(np.diff(starts).max())
    most_params = max(np.diff(var_par).max(), 0)
    row_bound = 2 + width * (3 * longest + most_params * (longest + 21) + 32)
    data, offsets = _write(
        n_picks,
        pick_var,
        pick_val,
        pick_piece,
        pick_text,
        blob,
        starts,
        np.asarray(var_head, dtype=np.int64),
        np.asarray(var_par, dtype=np.int64),
        np.asarray(par_prefix, dtype=np.int64),
        np.asarray(par_kind, dtype=np.int64),
        np.asarray(par_col, dtype=np.int64),
        np.stack(ints, axis=1) if ints else np.zeros((n, 0), dtype=np.int64),
        np.stack(strs, axis=1) if strs else np.zeros((n, 0), dtype=np.int64),
        np.asarray(str_base, dtype=np.int64),
        row_bound,
        n * (2 + 80 * min(width, 3)),
    )
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
        )
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def reasons_json_column(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    top: int = 3,
    min_contribution: float = 0.0,
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """:func:`reasons_json_array` as Python strings.

    Exactly ``[reasons_json(r) for r in reason_codes(contributions, features, ...)]``.
    """
    array = reasons_json_array(
        contributions, features, top=top, min_contribution=min_contribution, labels=labels
    )
    return array.to_pylist()  # type: ignore[no-any-return]
