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

from retain.features import family_of
from retain.i18n import t

__all__ = ["Reason", "reason_codes", "reasons_json"]


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
    sums = np.column_stack([contributions[:, idx].sum(axis=1) for idx in member_idx])
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
