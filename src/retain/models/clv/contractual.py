"""Lifetime value of subscribers: a shifted-beta-geometric renewal model per plan.

A subscription pays ``amount`` at the start of each billing period and renews at the end of it
until cancelled (:class:`ShiftedBetaGeometricModel`, Fader & Hardie 2007). Renewal odds differ
by plan and billing period, so one model is fitted per (plan, billing period) on the
``subscriptions`` table; a plan with too few subscriptions or cancellations borrows the model
of all plans with its billing period, and the fit says so.

A subscriber's value is the margin on the payments still to come within the horizon: the next
renewal's payment and each later one, weighted by the probability of renewing that far
(``S(n + k) / S(n)`` after ``n`` renewals) and discounted monthly, in the subscription's currency.
A subscription that ended on or before ``as_of`` is worth nothing more. A cancellation recorded
by ``as_of`` but effective later (at the end of the paid period, or of a commitment) is known
already: the fit counts the subscription as active up to ``as_of``, and its value is the
payments still due before ``ended_at``, with no renewal after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betaln

from retain.errors import ConvergenceError
from retain.facts import currency_code, reporting_currency
from retain.i18n import t
from retain.models.clv.checks import captured, degenerate_params
from retain.models.clv.sbg import ShiftedBetaGeometricModel
from retain.models.clv.value import monthly_discount_rate

__all__ = [
    "ROLE_PREFIX",
    "SubscriptionFit",
    "fit_subscriptions",
    "subscriber_values",
    "subscription_spells",
]

FloatArray = npt.NDArray[np.float64]

ROLE_PREFIX = "subscription"
"""Stored roles of the renewal models: ``subscription:<billing period>:<plan>`` (``*`` pooled)."""
PERIOD_MONTHS = {"day": 12 / 365.25, "week": 7 * 12 / 365.25, "month": 1.0, "year": 12.0}
MIN_SUBSCRIPTIONS = 30
MIN_CANCELLATIONS = 5
_MONTH_DAYS = 365.25 / 12


def role(period: str, plan: str | None) -> str:
    """The stored role of the model for ``plan`` (None: every plan) billed per ``period``."""
    return f"{ROLE_PREFIX}:{period}:{'*' if plan is None else plan}"


def _elapsed(start: pd.Series, end: pd.Series, period: pd.Series) -> tuple[FloatArray, FloatArray]:
    """Whole billing periods from ``start`` to ``end``, and whether part of another follows.

    Month and year plans count calendar months, so a plan started on the 1st renews on the 1st.
    """
    s, e = pd.to_datetime(start), pd.to_datetime(end)
    s_key = s.dt.day * 86400 + (s - s.dt.normalize()).dt.total_seconds()
    e_key = e.dt.day * 86400 + (e - e.dt.normalize()).dt.total_seconds()
    months = ((e.dt.year - s.dt.year) * 12 + (e.dt.month - s.dt.month)).to_numpy(dtype=float)
    months -= (e_key < s_key).to_numpy(dtype=float)
    off_day = (e_key != s_key).to_numpy()
    days = ((e - s).dt.total_seconds() / 86400.0).to_numpy(dtype=float)
    unit = period.to_numpy()
    whole = np.select(
        [unit == "month", unit == "year", unit == "week"],
        [months, np.floor(months / 12), np.floor(days / 7)],
        default=np.floor(days),
    )
    part = np.select(
        [unit == "month", unit == "year", unit == "week"],
        [off_day, off_day | (months % 12 != 0), days / 7 > np.floor(days / 7)],
        default=days > np.floor(days),
    )
    return np.maximum(whole, 0.0), part.astype(float)


def subscription_spells(subscriptions: Any, *, as_of: pd.Timestamp, currency: str) -> pd.DataFrame:
    """One row per subscription started by ``as_of``: its renewal history as the model reads it.

    Columns: the subscription's ``customer_id``, ``plan``, ``billing_period``, ``amount``,
    ``currency``, ``started_at``; ``ended`` (cancelled on or before ``as_of``); ``periods`` (paid
    periods if ended, renewals survived if active); ``entered`` (renewals survived before the
    first cancellation the data record, for left truncation); ``elapsed_months``;
    ``paid_until`` (for an active subscription with a recorded cancellation after ``as_of``: the
    periods it pays in all before ``ended_at``; infinite when none is recorded). ``currency`` is
    the code as :func:`retain.facts.currency_code` compares it, empty or null as ``currency``.
    """
    end = pd.Timestamp(as_of).floor("D") + pd.Timedelta(days=1)
    subs = subscriptions.filter(subscriptions.started_at < end)
    cols = ["customer_id", "plan", "billing_period", "amount", "currency", "started_at", "ended_at"]
    if "currency" in subs.columns:
        subs = subs.mutate(currency=currency_code(subs.currency))
    frame = subs.select(*[c for c in cols if c in subs.columns]).to_pandas()
    reporting = reporting_currency(currency)
    for name, default in (("billing_period", "month"), ("currency", reporting), ("amount", 0.0)):
        if name not in frame:
            frame[name] = default
        frame[name] = frame[name].fillna(default)
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["plan"] = frame["plan"].fillna("").astype(str)
    frame["amount"] = frame["amount"].astype(float)
    frame["started_at"] = pd.to_datetime(frame["started_at"]).dt.tz_localize(None)
    ended_at = pd.to_datetime(frame["ended_at"]).dt.tz_localize(None)
    frame["ended"] = (ended_at.notna() & (ended_at < end)).to_numpy()
    stop = ended_at.where(frame["ended"], end)
    whole, part = _elapsed(frame["started_at"], stop, frame["billing_period"])
    frame["periods"] = np.where(frame["ended"], np.maximum(whole + part, 1.0), whole)
    leaving = (ended_at.notna() & ~frame["ended"]).to_numpy()
    whole, part = _elapsed(frame["started_at"], ended_at.fillna(end), frame["billing_period"])
    frame["paid_until"] = np.where(leaving, np.maximum(whole + part, 1.0), np.inf)
    first = ended_at[frame["ended"]].min()
    if pd.isna(first):
        frame["entered"] = 0.0
    else:
        seen = pd.Series(first, index=frame.index).clip(lower=frame["started_at"])
        frame["entered"], _ = _elapsed(frame["started_at"], seen, frame["billing_period"])
    frame["elapsed_months"] = (end - frame["started_at"]).dt.total_seconds() / 86400 / _MONTH_DAYS
    out: pd.DataFrame = frame.drop(columns=["ended_at"]).reset_index(drop=True)
    return out


@dataclass
class SubscriptionFit:
    """The renewal models by role, which role values each (plan, period), and what to tell."""

    models: dict[str, ShiftedBetaGeometricModel]
    plans: dict[str, str]
    """``role(period, plan)`` -> the role of the model that values it (itself or the pooled one)."""
    notes: list[str] = field(default_factory=list)


def _fit_one(
    spells: pd.DataFrame, label: str, notes: list[str]
) -> ShiftedBetaGeometricModel | None:
    grouped = spells.groupby(["periods", "ended", "entered"]).size().rename("weight").reset_index()
    caught: list[str] = []
    with captured(caught, f"sBG {label}"):
        try:
            model = ShiftedBetaGeometricModel().fit_spells(
                grouped["periods"],
                grouped["ended"].astype(float),
                entered=grouped["entered"],
                weight=grouped["weight"],
            )
        except ConvergenceError:
            notes.append(t("clv.sbg_failed", plan=label))
            return None
    extreme = degenerate_params(model)
    if len(extreme) == len(model.params_) and min(extreme.values()) > 1:
        # alpha and beta both large: every subscriber renews with the same odds (geometric).
        rate = model.params_["beta"] / (model.params_["alpha"] + model.params_["beta"])
        notes.append(t("clv.sbg_constant", plan=label, rate=f"{rate:.1%}"))
        return model
    notes.extend(caught)
    for name, value in extreme.items():
        notes.append(t("clv.sbg_degenerate", plan=label, param=name, value=f"{value:,.4g}"))
    return model


def fit_subscriptions(spells: pd.DataFrame) -> SubscriptionFit:
    """One sBG per (plan, billing period) with enough data; pooled per billing period otherwise."""
    fit = SubscriptionFit(models={}, plans={})
    for period, by_period in spells.groupby("billing_period", sort=True):
        pooled_role = role(str(period), None)
        pooled: ShiftedBetaGeometricModel | None = None
        pooled_failed = False
        for plan, rows in by_period.groupby("plan", sort=True):
            key = role(str(period), str(plan))
            label = f"{plan} ({period})"
            if len(rows) >= MIN_SUBSCRIPTIONS and int(rows["ended"].sum()) >= MIN_CANCELLATIONS:
                model = _fit_one(rows, label, fit.notes)
                if model is not None:
                    fit.models[key] = model
                    fit.plans[key] = key
                    continue
            if pooled_failed:
                continue
            if pooled is None and pooled_role not in fit.models:
                if int(by_period["ended"].sum()) == 0:
                    fit.notes.append(t("clv.sbg_no_cancellations", period=str(period)))
                    break
                pooled = _fit_one(by_period, t("clv.sbg_all_plans", period=str(period)), fit.notes)
                if pooled is None:
                    # _fit_one noted the failure; plans of this period with data of their own
                    # are still fitted, the small ones stay unvalued.
                    pooled_failed = True
                    continue
                fit.models[pooled_role] = pooled
            fit.plans[key] = pooled_role
            fit.notes.append(t("clv.sbg_pooled", plan=label, subscriptions=len(rows)))
    return fit


def subscriber_values(
    fit: SubscriptionFit,
    spells: pd.DataFrame,
    *,
    horizon_months: int,
    margin: float,
    annual_discount_rate: float,
) -> pd.DataFrame:
    """Per subscriber and currency: expected payments within the horizon and their value.

    Columns: ``customer_id``, ``currency``, ``probability_alive`` (1 with an active
    subscription and no cancellation recorded, else 0), ``expected_purchases`` (expected
    payments), ``expected_spend`` (amount per payment), ``clv`` (null where no renewal model
    could be fitted). A recorded cancellation after ``as_of`` (``paid_until``) leaves the
    payments due before it, certain, and none after it.
    """
    d_m = monthly_discount_rate(annual_discount_rate)
    value = np.zeros(len(spells))
    payments = np.zeros(len(spells))
    known = np.ones(len(spells), dtype=bool)
    active = ~spells["ended"].to_numpy(dtype=bool)
    paid_until = (
        spells["paid_until"].to_numpy(dtype=float)
        if "paid_until" in spells
        else np.full(len(spells), np.inf)
    )
    staying = active & np.isinf(paid_until)
    for (period, plan), rows in spells[active].groupby(["billing_period", "plan"]):
        model_role = fit.plans.get(role(str(period), str(plan)))
        idx = rows.index.to_numpy()
        if model_role is None:
            known[idx] = False
            continue
        alpha, beta = fit.models[model_role].params_.values()
        step = PERIOD_MONTHS[str(period)]
        steps = math.ceil(horizon_months / step) + 1
        k = np.arange(1, steps + 1, dtype=float)[None, :]
        n = rows["periods"].to_numpy(dtype=float)[:, None]
        ahead = (n + k) * step - rows["elapsed_months"].to_numpy(dtype=float)[:, None]
        due = (ahead > 0) & (ahead <= horizon_months)
        alive = np.exp(betaln(alpha, beta + n + k) - betaln(alpha, beta + n))
        # a recorded cancellation: the payments before it are owed, none follows it
        until = paid_until[idx][:, None]
        alive = np.where(np.isinf(until), alive, (n + k < until).astype(float))
        counted = np.where(due, alive, 0.0)
        payments[idx] = counted.sum(axis=1)
        value[idx] = (
            margin
            * rows["amount"].to_numpy(dtype=float)
            * (counted / (1.0 + d_m) ** np.maximum(ahead, 0.0)).sum(axis=1)
        )
    frame = pd.DataFrame(
        {
            "customer_id": spells["customer_id"],
            "currency": spells["currency"].astype(str),
            "probability_alive": staying.astype(float),
            "expected_purchases": payments,
            "spend_due": np.where(active, spells["amount"].to_numpy(dtype=float), 0.0),
            "clv": np.where(known, value, np.nan),
        }
    )
    out = frame.groupby(["customer_id", "currency"], sort=False).agg(
        probability_alive=("probability_alive", "max"),
        expected_purchases=("expected_purchases", "sum"),
        expected_spend=("spend_due", "sum"),
        clv=("clv", lambda v: v.sum(min_count=len(v))),
    )
    return out.reset_index()
