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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retain.features import family_of
from retain.i18n import t

__all__ = ["Reason", "reason_codes", "reasons_json", "reasons_json_column"]


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
    if _num(r, "orders_90d") == 0 and _num(r, "orders_total"):
        return "reasons.no_recent_orders", {"days": _int(_num(r, "days_since_last_order"))}
    if _num(r, "orders_total") == 1:
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
    family: str, members: Sequence[str], contrib: np.ndarray, row: Row
) -> tuple[str, dict[str, Any]] | None:
    renderer = _RENDERERS.get(family)
    if renderer is not None:
        return renderer(row)
    # Profile attributes and features outside the catalog: name the strongest member and its value.
    best = members[int(np.argmax(contrib))]
    value = row.get(best)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        value = round(value, 2)
    if best in _PROFILE:
        return f"reasons.{best}", {"value": str(value)}
    return "reasons.feature", {"feature": best, "value": str(value)}


def _family_sums(
    contributions: np.ndarray, features: pd.DataFrame
) -> tuple[list[str], list[str], list[np.ndarray], np.ndarray]:
    """Feature names, family names, each family's column indices and per-family sums."""
    names = [str(c) for c in features.columns]
    if contributions.shape != (len(features), len(names) + 1):
        from retain.errors import InvalidParameterError

        raise InvalidParameterError(
            t(
                "churn.contrib_shape",
                got=str(contributions.shape),
                expected=f"({len(features)}, {len(names) + 1})",
            ),
            hint=t("churn.contrib_shape_hint"),
        )
    families: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        families.setdefault(family_of(name), []).append(j)
    fam_names = list(families)
    member_idx = [np.asarray(families[f]) for f in fam_names]
    sums = np.zeros((len(features), len(fam_names)))
    for k, idx in enumerate(member_idx):
        sums[:, k] = contributions[:, idx].sum(axis=1)
    return names, fam_names, member_idx, sums


def reason_codes(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    top: int = 3,
    min_contribution: float = 0.0,
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
            rendered = _render(fam_names[k], [names[j] for j in idx], contributions[i, idx], row)
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
# the row's reason, exactly as the per-row renderers above decide it. The top families are then
# picked per row with numpy, and only the picked reasons are formatted as JSON text, with Arrow's
# string kernels (no Python loop per row).
# ``tests/models/churn/test_reasons.py`` checks both paths give identical JSON.

Param = tuple[str, np.ndarray]
"""A parameter name and its column: int64 (rounded like :func:`_int`) or object (str)."""
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
            "reasons.no_recent_orders",
            (c.num("orders_90d") == 0) & _nz(total),
            [("days", _ints(c.num("days_since_last_order")))],
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
    if "billing_period" in c.features.columns:
        yearly = (c.features["billing_period"].astype(object) == "year").to_numpy(dtype=bool)
    else:
        yearly = np.zeros(c.n, dtype=bool)
    return [
        ("reasons.contract_ending", _present(days), [("days", _ints(days))]),
        ("reasons.renewal_due", _present(renewal) & yearly, [("days", _ints(renewal))]),
        ("reasons.no_contract", np.ones(c.n, dtype=bool), []),
    ]


def _v_tenure(c: _Columns) -> list[Variant]:
    days = c.num("tenure_days")
    return [("reasons.new_customer", _present(days) & (days < 180), [("days", _ints(days))])]


def _v_plan(c: _Columns) -> list[Variant]:
    if "plan" not in c.features.columns:
        return [("reasons.plan", np.zeros(c.n, dtype=bool), [])]
    values = c.features["plan"].tolist()
    ok = np.array([isinstance(v, str) and bool(v) for v in values], dtype=bool)
    plans = np.array([v if isinstance(v, str) else "" for v in values], dtype=object)
    return [("reasons.plan", ok, [("plan", plans)])]


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


def _fallback_head(member: str, value: Any) -> str:
    """``{"key":...,"params":{...}`` of a profile attribute or a feature outside the catalog."""
    if isinstance(value, float):
        value = round(value, 2)
    if member in _PROFILE:
        key, params = f"reasons.{member}", {"value": str(value)}
    else:
        key, params = "reasons.feature", {"feature": member, "value": str(value)}
    head = json.dumps({"key": key, "params": params}, ensure_ascii=False, separators=(",", ":"))
    return head[:-1]


def reasons_json_column(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    top: int = 3,
    min_contribution: float = 0.0,
) -> list[str]:
    """The ``churn_scores.reasons`` value of every row, computed a chunk at a time.

    Gives exactly ``[reasons_json(r) for r in reason_codes(contributions, features, ...)]``
    (same families, same order, same parameters and text), with the family sums, the ranking
    and the rules vectorised over all rows; Python only formats the chosen reasons.
    """
    names, fam_names, member_idx, sums = _family_sums(contributions, features)
    n, n_fam = sums.shape
    if n == 0:
        return []
    cols = _Columns(features)
    # choice[i, k]: index of the variant family k uses for row i, -1 when it has no reason.
    choice = np.full((n, n_fam), -1, dtype=np.int64)
    variants: list[list[Variant]] = []
    fallback: dict[int, tuple[np.ndarray, list[list[Any]]]] = {}
    for k, family in enumerate(fam_names):
        make = _VARIANTS.get(family)
        if make is not None:
            vs = make(cols)
            for v in range(len(vs) - 1, -1, -1):  # the earliest matching variant wins
                choice[vs[v][1], k] = v
            variants.append(vs)
            continue
        # Profile attributes and features outside the catalog: the strongest member's value.
        idx = member_idx[k]
        best = np.argmax(contributions[:, idx], axis=1)
        values = [features.iloc[:, j].tolist() for j in idx]
        missing = np.column_stack([features.iloc[:, j].isna().to_numpy() for j in idx])
        present = ~missing[np.arange(n), best]
        choice[present, k] = 0
        variants.append([])
        fallback[k] = (best, values)

    order = np.argsort(-sums, axis=1)
    ranked = np.take_along_axis(sums, order, axis=1)
    # The per-row loop stops at the first family at or below min_contribution.
    alive = np.cumprod(~(ranked <= min_contribution), axis=1).astype(bool)
    ok = alive & (np.take_along_axis(choice, order, axis=1) >= 0)
    rank = np.cumsum(ok, axis=1)
    picked = ok & (rank <= top)
    rows, pos = np.nonzero(picked)
    fam = order[rows, pos]
    slot = rank[rows, pos] - 1
    var = choice[rows, fam]
    contrib_text = _contribution_text(np.round(sums[rows, fam], 4))
    # Build each picked reason's JSON text a (family, variant) group at a time, in Arrow.
    pieces: list[pa.Array] = []
    positions: list[np.ndarray] = []
    for k in np.unique(fam).tolist():
        in_k = fam == k
        if k in fallback:
            best, values = fallback[k]
            sel = np.flatnonzero(in_k)
            heads = []
            seen: dict[tuple[int, Any], str] = {}
            for s in sel.tolist():
                i = int(rows[s])
                b = int(best[i])
                value = values[b][i]
                head = seen.get((b, value))
                if head is None:
                    head = seen[(b, value)] = _fallback_head(names[member_idx[k][b]], value)
                heads.append(head)
            pieces.append(_join([pa.array(heads, pa.string()), contrib_text.take(sel)]))
            positions.append(sel)
            continue
        for v in np.unique(var[in_k]).tolist():
            sel = np.flatnonzero(in_k & (var == v))
            key, _, params = variants[k][v]
            r = rows[sel]
            parts: list[pa.Array | str] = [
                '{"key":' + json.dumps(key, ensure_ascii=False) + ',"params":{'
            ]
            for j, (name, column) in enumerate(params):
                parts.append(("," if j else "") + json.dumps(name) + ":")
                parts.append(_param_values(column[r]))
            parts.append("}")
            parts.append(contrib_text.take(sel))
            pieces.append(_join(parts))
            positions.append(sel)
    if pieces:
        at = np.concatenate(positions)
        text = pa.concat_arrays(pieces).take(pa.array(np.argsort(at, kind="stable")))
    else:
        text = pa.array([], pa.string())
    # Row by row: "[" + reason 1 + ("," + reason 2) + ... + "]"; a row's slots fill in order.
    row_parts: list[pa.Array | str] = ["["]
    for k in range(max(top, 0)):
        index = np.full(n, -1, dtype=np.int64)
        mine = slot == k
        index[rows[mine]] = np.flatnonzero(mine)
        taken = text.take(pa.array(index, mask=index < 0))
        if k:
            taken = _join([",", taken])
        row_parts.append(pc.fill_null(taken, ""))
    row_parts.append("]")
    body = _join(row_parts) if len(row_parts) > 2 else pa.array(["[]"] * n, pa.string())
    return body.to_pylist()  # type: ignore[no-any-return]


def _join(parts: Sequence[pa.Array | str]) -> pa.Array:
    """Concatenate string arrays and constants element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def _param_values(column: np.ndarray) -> pa.Array:
    """A parameter column as JSON text: integers as digits, strings JSON-quoted."""
    if column.dtype == object:
        return pa.array([json.dumps(v, ensure_ascii=False) for v in column.tolist()], pa.string())
    return pc.cast(pa.array(column, pa.int64()), pa.string())


def _contribution_text(values: np.ndarray) -> pa.Array:
    """``,"contribution":<value>}`` with each value written as ``json.dumps`` writes floats."""
    if len(values) and np.isfinite(values).all():
        text = pc.cast(pa.array(values, pa.float64()), pa.string())
        # Arrow writes 2.0 as "2"; Python's repr (and JSON) as "2.0".
        whole = (values == np.floor(values)) & (np.abs(values) < 1e16)
        text = pc.if_else(pa.array(whole), _join([text, ".0"]), text)
    else:
        text = pa.array([_json_float(x) for x in values.tolist()], pa.string())
    return _join([',"contribution":', text, "}"])
