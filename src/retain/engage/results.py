"""What a playbook achieved: treated against holdout, per variant, with 95 % intervals.

A playbook's customers are read from ``interactions``, the shape the demo's past campaigns and
the outbox worker share: ``message_sent`` rows with ``campaign_id`` = the playbook's name (or
``<name>:<variant>`` for A/B/n variants) are the treated, ``holdout`` rows with the same
``campaign_id`` the randomized control. Each customer's window starts at their first such row
and lasts ``window_days``; only customers whose window has ended by ``as_of`` count (the others
are ``pending``). Within the window:

``conversion``
    a completed order;
``retention``
    still active: an order or an event in the window, or a subscription still open at its end;
``revenue``
    completed order amounts per customer.

Each variant's treated customers are compared with the whole holdout: the difference in means
with a 95 % normal interval (Wald for the rates, Welch's standard error for revenue), the
incremental profit ``n_treated x difference in revenue x margin - offer cost x treated
conversions``, and the goal's progress (``value / target``: the treated rate for conversion or
retention, the revenue per treated customer, or the conversion difference for ``lift``).

Who was treated or held out (:func:`assignments`) is read by
:func:`retain.models.uplift.playbooks.playbook_assignments`, the one reading the uplift models
share (a playbook's runs are their training data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from retain.engage.playbooks import Goal, Playbook
from retain.errors import NotFoundError
from retain.facts import DateLike, activity_rows, as_timestamp
from retain.features import Sources
from retain.i18n import t
from retain.models.uplift.playbooks import playbook_assignments as assignments

__all__ = [
    "METRICS",
    "Z95",
    "Interval",
    "assignments",
    "outcomes",
    "playbook_results",
    "results_window",
]

METRICS = ("conversion", "retention", "revenue")
Z95 = 1.959963984540054
"""The normal quantile of a two-sided 95 % interval."""


@dataclass(frozen=True)
class Interval:
    """A difference (treated minus holdout) with its 95 % interval."""

    estimate: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        """JSON-friendly."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def outcomes(
    sources: Sources, assigned: ir.Table, *, window_days: int, as_of: DateLike
) -> pd.DataFrame:
    """Per assigned customer whose window ended by ``as_of``: conversion, retention, revenue."""
    end = as_timestamp(as_of)
    span = pd.Timedelta(days=window_days)
    base = assigned.filter(assigned.assigned_at + span <= end)
    base = base.mutate(window_end=base.assigned_at + span)
    cols: dict[str, ir.Value] = {}
    orders = sources.completed_orders()
    if orders is not None:
        joined = base.select("customer_id", "assigned_at", "window_end").join(
            orders.select("customer_id", "ordered_at", "amount"), "customer_id"
        )
        inside = joined.filter(
            (joined.ordered_at > joined.assigned_at) & (joined.ordered_at <= joined.window_end)
        )
        per = inside.group_by("customer_id").agg(
            orders_n=inside.count(), revenue=inside.amount.cast("float64").sum()
        )
        base = base.left_join(per, "customer_id").drop("customer_id_right")
        cols["conversion"] = (base.orders_n.fill_null(0) > 0).cast("int64")
        cols["revenue"] = base.revenue.fill_null(0.0)
    parts = activity_rows(orders=sources.orders, events=sources.events, kind="any")
    active = ibis.literal(False)
    if parts:
        acts = parts[0]
        for part in parts[1:]:
            acts = acts.union(part, distinct=False)
        hit = base.select("customer_id", "assigned_at", "window_end").join(acts, "customer_id")
        hit = hit.filter((hit.at > hit.assigned_at) & (hit.at <= hit.window_end))
        hit = hit.select("customer_id").distinct().mutate(_active=ibis.literal(True))
        base = base.left_join(hit, "customer_id").drop("customer_id_right")
        active = base._active.fill_null(False)
    if sources.subscriptions is not None:
        subs = sources.subscriptions
        alive = base.select("customer_id", "window_end").join(
            subs.select("customer_id", "started_at", "ended_at"), "customer_id"
        )
        alive = alive.filter(
            (alive.started_at <= alive.window_end)
            & (alive.ended_at.isnull() | (alive.ended_at > alive.window_end))
        )
        alive = alive.select("customer_id").distinct().mutate(_open=ibis.literal(True))
        base = base.left_join(alive, "customer_id").drop("customer_id_right")
        active = active | base._open.fill_null(False)
    cols["retention"] = active.cast("int64")
    out = base.select("customer_id", "arm", "variant", **cols).to_pandas()
    for metric in METRICS:
        if metric not in out.columns:
            out[metric] = np.nan
    frame: pd.DataFrame = out
    return frame


def _difference(treated: pd.Series, holdout: pd.Series) -> Interval | None:
    """Difference in means with a Welch / Wald 95 % interval; None when an arm is too small."""
    n1, n0 = treated.count(), holdout.count()
    if n1 < 2 or n0 < 2:
        return None
    m1, m0 = float(treated.mean()), float(holdout.mean())
    se = math.sqrt(float(treated.var(ddof=1)) / n1 + float(holdout.var(ddof=1)) / n0)
    diff = m1 - m0
    return Interval(diff, diff - Z95 * se, diff + Z95 * se)


def _arm(frame: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"customers": len(frame)}
    for metric in METRICS:
        value = float(frame[metric].mean()) if len(frame) else math.nan
        key = f"{metric}_per_customer" if metric == "revenue" else metric
        out[key] = None if math.isnan(value) else value
    return out


def _goal(goal: Goal | None, treated: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    if goal is None:
        return {}
    if goal.metric == "lift":
        value = (diff.get("conversion") or {}).get("estimate")
    elif goal.metric == "revenue":
        value = treated.get("revenue_per_customer")
    else:
        value = treated.get(goal.metric)
    progress = None if value is None or goal.target == 0 else float(value) / goal.target
    return {
        "metric": goal.metric,
        "window_days": goal.window_days,
        "target": goal.target,
        "value": value,
        "progress": progress,
        "reached": progress is not None and progress >= 1.0,
    }


def results_window(playbook: Playbook | None, window_days: int | None = None) -> int:
    """Days a customer's outcome is counted after their assignment, by default.

    ``window_days`` when given, else the playbook's goal window, else its attribution window
    (30 days for a past campaign without a playbook). ``retain uplift`` reads a ``playbook:``
    campaign's window here too, so its effects match these results.
    """
    if window_days:
        return window_days
    if playbook is None:
        return 30
    return playbook.goal.window_days if playbook.goal else playbook.attribution_days


def playbook_results(
    sources: Sources,
    name: str,
    *,
    as_of: DateLike,
    playbook: Playbook | None = None,
    window_days: int | None = None,
) -> dict[str, Any]:
    """Treated against holdout for playbook (or past campaign) ``name``; see the module doc.

    ``playbook`` supplies the attribution window, margin, offer cost and goal; without it (a
    past campaign) the window is ``window_days`` (default 30), margin 1 and no offer cost.
    """
    interactions = sources.interactions
    if interactions is None:
        raise NotFoundError(
            t("engage_playbooks.no_results", name=name),
            hint=t("engage_playbooks.no_results_hint", name=name),
        )
    window = results_window(playbook, window_days)
    assigned = assignments(interactions, name)
    counts = assigned.group_by("arm").agg(n=assigned.count()).to_pandas()
    if counts.empty:
        raise NotFoundError(
            t("engage_playbooks.no_results", name=name),
            hint=t("engage_playbooks.no_results_hint", name=name),
        )
    frame = outcomes(sources, assigned, window_days=window, as_of=as_of)
    total = int(counts["n"].sum())
    holdout = frame[frame["arm"] == "holdout"]
    margin = playbook.margin if playbook else 1.0
    cost = playbook.offer.cost if playbook and playbook.offer else 0.0
    variants = []
    for variant, treated in sorted(frame[frame["arm"] == "treated"].groupby("variant")):
        diffs = {}
        for metric in METRICS:
            interval = _difference(treated[metric].dropna(), holdout[metric].dropna())
            diffs[metric] = None if interval is None else interval.as_dict()
        arm = _arm(treated)
        revenue_gap = (diffs.get("revenue") or {}).get("estimate")
        profit = None
        if revenue_gap is not None:
            conversions = float(treated["conversion"].sum())
            profit = len(treated) * revenue_gap * margin - cost * conversions
        variants.append(
            {
                "variant": variant,
                "treated": arm,
                "holdout": _arm(holdout),
                "difference": diffs,
                "incremental_profit": profit,
                "goal": _goal(playbook.goal if playbook else None, arm, diffs),
            }
        )
    return {
        "playbook": name,
        "as_of": as_timestamp(as_of).isoformat(),
        "window_days": window,
        "customers": total,
        "pending": total - len(frame),
        "variants": variants,
    }
