"""The offer plan: whom to give what within a budget, what it should earn, and who is left out.

A customer's expected incremental profit from action *a* is

    uplift(a) x CLV - expected cost(a)
    expected cost(a) = cost per contact + discount share x order value x P(order with the offer)

where uplift is the rise in the probability of staying (of ordering within the window), CLV is
the customer's lifetime value, which retain already stores as discounted *margin*
(``clv.margin`` is applied when it is computed, so it is not applied twice), and the discount
is paid on every redeemed order: also by customers who would have stayed anyway
(P(order with the offer) = P(stay) + uplift). :func:`~retain.targeting.offers.optimize.choose`
picks the actions.

**Honest profit.** The uplifts that choose (``uplift``) are not the ones that value the plan
(``uplift_honest``, out of fold / cross-fitted): picking the largest of noisy estimates
overstates them (the winner's curse), so the plan's expected profit is the honest one, and
:attr:`PlanSummary.naive_profit` shows what the choosing estimates would have claimed.

A contacted customer can have a positive choosing estimate and a negative honest one (their
measured group does not confirm the choice): they stay in the plan and the summary counts them
(:attr:`PlanSummary.measured_losses`), because dropping them would select on the measurement's
noise and overstate the rest again.

**Without campaign history** the uplift of an action is the customer's churn risk times the
action's assumed response rate (``[[offers.actions]] assumed_response_rate``), a heuristic every
output names (:attr:`OfferPlan.heuristic`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from retain.config import OfferAction, OfferSettings
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.models.uplift.halves import ERROR_COLUMNS
from retain.targeting.offers.confirm import RefutedAction, refuted_actions
from retain.targeting.offers.holdout import holdout_mask
from retain.targeting.offers.optimize import LEFT_OUT_REASONS, NOTHING, choose

__all__ = [
    "CUSTOMER_COLUMNS",
    "ERROR_COLUMNS",
    "UPLIFT_COLUMNS",
    "ActionSummary",
    "OfferPlan",
    "PlanSummary",
    "heuristic_uplift",
    "plan_offers",
]

CUSTOMER_COLUMNS = ("customer_id", "churn_probability", "clv", "order_value")
"""What the planner needs per customer (``order_value``: expected spend of one order)."""
UPLIFT_COLUMNS = ("customer_id", "action", "uplift", "uplift_honest")
"""The uplift interface: per (customer, action) the uplift that chooses and the honest one
(out of fold), both as a rise in the probability of staying; what ``retain.models.uplift``
provides."""
Z95 = 1.959963984540054


@dataclass(frozen=True)
class ActionSummary:
    """One action's share of the plan."""

    action: str
    customers: int
    cost: float
    expected_profit: float
    capacity: int | None


@dataclass(frozen=True)
class PlanSummary:
    """The plan's totals, all over contacted customers (the holdout costs nothing)."""

    customers: int
    targets: int
    holdout: int
    left_out: dict[str, int]
    """Customers per reason in :data:`~retain.targeting.offers.optimize.LEFT_OUT_REASONS`."""
    budget: float
    total_cost: float
    expected_profit: float
    """Honest: on the out-of-fold uplift, never on the estimates that chose."""
    naive_profit: float
    """The same customers valued on the choosing estimates (what the winner's curse claims)."""
    roi: float | None
    """expected_profit / total_cost; None when nothing is spent."""
    what_if_points: float
    what_if_profit: float
    """The profit of raising every planned customer's retention by ``what_if_points`` points:
    points / 100 x the sum of their CLV."""
    actions: list[ActionSummary] = field(default_factory=list)
    profit_low: float | None = None
    profit_high: float | None = None
    """The 95 % interval of the profit the contacted customers will bring: the measurement
    error of the uplift (``honest_variance``) and the chance in who stays; None when the uplift
    came without its variance (the heuristic, a file, older stored uplift)."""
    measured_losses: int = 0
    """Contacted customers chosen on a positive choosing estimate whose honest expected profit
    is negative: the campaign's measurement of their group does not confirm the choice."""
    measured_loss_profit: float = 0.0
    """Their honest expected profit, summed (<= 0; part of :attr:`expected_profit`). They stay
    in the plan: dropping them would choose on the measurement and overstate the rest
    (docs/offers.md, "Honest profit")."""
    refuted: list[RefutedAction] = field(default_factory=list)
    """Actions set aside because the campaign measured their would-be customers at a sure loss
    (:mod:`~retain.targeting.offers.confirm`)."""
    chosen_profit: float = 0.0
    """The choosing estimates' profit of every chosen customer, the holdout included: what the
    solver maximised."""
    best_possible: float = 0.0
    """Certified: no plan within the budget and capacities earns more by the choosing
    estimates (the optimum when solved exactly, else the Lagrangian dual bound); see
    :attr:`optimality`."""
    solver: str = "none"
    """Which solver's plan won: ``exact``, ``walk``, ``relaxation`` or ``none``."""

    @property
    def optimality(self) -> float | None:
        """How close the choice is to the best possible under the same estimates.

        :attr:`chosen_profit` / :attr:`best_possible` (1.0 = optimal); None when nothing could
        earn.
        """
        if self.best_possible <= 0:
            return None
        return min(1.0, max(self.chosen_profit, 0.0) / self.best_possible)

    @property
    def winners_curse(self) -> float:
        """How much the choosing estimates overstate the plan's profit."""
        return self.naive_profit - self.expected_profit


@dataclass(frozen=True)
class OfferPlan:
    """A plan: one row per customer in :attr:`decisions`, totals in :attr:`summary`.

    ``decisions`` columns: ``customer_id``, ``status`` (``target``, ``holdout`` or
    ``left_out``), ``action`` (``nothing`` when left out), ``reason`` (a left-out reason, or
    ``target`` / ``holdout``), ``churn_probability``, ``clv``, ``uplift``, ``uplift_honest``,
    ``expected_cost``, ``expected_profit`` (honest) and ``naive_profit``; targets first, most
    profitable first.
    """

    plan_id: str
    as_of: dt.date | None
    decisions: pd.DataFrame
    summary: PlanSummary
    heuristic: bool
    """True when no campaign history was given: uplift = risk x assumed response rate."""
    response_rates: dict[str, float]
    """The assumed response rate per action (the heuristic's; shown in every output)."""
    source: str | None = None
    """Where measured uplift came from (e.g. ``coupon_20: campaign CMP-04, model ...``); None
    when it was given without a name or is the heuristic."""
    unmeasured: tuple[str, ...] = ()
    """Actions whose stored uplift an older version scored, without measured groups: why a plan
    on them has no interval (every output says so, and how to score them again)."""


def heuristic_uplift(customers: pd.DataFrame, actions: Sequence[OfferAction]) -> pd.DataFrame:
    """Uplift without campaign history: churn risk x each action's assumed response rate.

    The same number serves as the honest estimate: it is an assumption, not an estimate from
    data, so choosing on it selects no noise (and measures nothing: the holdout will).
    """
    risk = customers["churn_probability"].to_numpy(dtype=np.float64)
    parts = [
        pd.DataFrame(
            {
                "customer_id": customers["customer_id"].to_numpy(),
                "action": action.name,
                "uplift": risk * action.assumed_response_rate,
            }
        )
        for action in actions
    ]
    out = pd.concat(parts, ignore_index=True)
    out["uplift_honest"] = out["uplift"]
    return out


def _check(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidParameterError(
            t("offers.missing_columns", table=name, columns=", ".join(missing)),
            hint=t("offers.missing_columns_hint", expected=", ".join(columns)),
        )


def _matrices(
    customers: pd.DataFrame, uplift: pd.DataFrame, names: Sequence[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(customers, actions)`` matrices of uplift and honest uplift; NaN where none is given."""
    n, k = len(customers), len(names)
    rows = pd.Index(customers["customer_id"]).get_indexer(pd.Index(uplift["customer_id"]))
    cols = pd.Index(list(names)).get_indexer(pd.Index(uplift["action"]))
    keep = (rows >= 0) & (cols >= 0)
    unknown = sorted(set(uplift["action"][cols < 0].astype(str)))
    if unknown:
        raise InvalidParameterError(
            t("offers.unknown_action", actions=", ".join(unknown), known=", ".join(names)),
            hint=t("offers.unknown_action_hint"),
        )
    out = []
    for column in ("uplift", "uplift_honest"):
        matrix = np.full((n, k), np.nan)
        matrix[rows[keep], cols[keep]] = uplift[column].to_numpy(dtype=np.float64)[keep]
        out.append(matrix)
    return out[0], out[1]


def _errors(
    customers: pd.DataFrame, uplift: pd.DataFrame, names: Sequence[str]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
    """The uplift's error per ``(customer, action)``, or None when it carries none.

    Codes of :data:`ERROR_COLUMNS`'s groups (-1: none) and their variances (NaN: unknown).
    """
    if not all(c in uplift.columns for c in ERROR_COLUMNS):
        return None
    n, k = len(customers), len(names)
    rows = pd.Index(customers["customer_id"]).get_indexer(pd.Index(uplift["customer_id"]))
    cols = pd.Index(list(names)).get_indexer(pd.Index(uplift["action"]))
    keep = (rows >= 0) & (cols >= 0)
    codes = pd.factorize(uplift["honest_group"])[0]  # a missing group (null) is -1
    group = np.full((n, k), -1, dtype=np.int64)
    group[rows[keep], cols[keep]] = codes[keep]
    variance = np.full((n, k), np.nan)
    variance[rows[keep], cols[keep]] = uplift["honest_variance"].to_numpy(dtype=np.float64)[keep]
    return group, variance


def _profit_interval(
    profit: float,
    contacted: npt.NDArray[np.bool_],
    action: npt.NDArray[np.int64],
    errors: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]],
    honest: npt.NDArray[np.float64],
    p_stay: npt.NDArray[np.float64],
    clv: npt.NDArray[np.float64],
    spend: npt.NDArray[np.float64],
) -> tuple[float, float] | None:
    """The 95 % interval of the contacted customers' profit (docs/offers.md, "Honest profit").

    Two independent errors add up. The measurement: a customer's profit moves by
    ``clv - discount x order value`` per unit of uplift, and customers valued by the same
    measured group share its error, so a group contributes (sum of their slopes)^2 x its
    variance. The chance in who stays: without the offer a customer stays with P(stay), the
    offer keeps another ``uplift``; one kept anyway costs the discount, one kept by the offer
    brings CLV less the discount (the offer makes nobody leave).
    """
    rows = np.flatnonzero(contacted)
    if not rows.size:
        return (profit, profit)
    group, variance = errors
    cols = action[rows]
    g, var = group[rows, cols], variance[rows, cols]
    if (g < 0).any() or not np.isfinite(var).all():
        return None
    slope = clv[rows] - spend[rows, cols]
    sums = np.bincount(g, weights=slope)
    seen = np.bincount(g) > 0
    per_group = np.zeros(sums.size)
    per_group[g] = var
    measured = float((sums[seen] ** 2 * per_group[seen]).sum())
    stay = np.clip(p_stay[rows], 0.0, 1.0)
    kept = np.clip(honest[rows, cols], 0.0, 1.0 - stay)
    anyway, won = -spend[rows, cols], slope
    mean = stay * anyway + kept * won
    chance = float((stay * anyway**2 + kept * won**2 - mean**2).sum())
    half = Z95 * float(np.sqrt(max(measured + chance, 0.0)))
    return (profit - half, profit + half)


def _plan_id(as_of: dt.date | None, budget: float, segment: str | None) -> str:
    day = as_of.isoformat() if as_of else "latest"
    amount = f"{budget:.2f}".rstrip("0").rstrip(".")  # 1000000, never 1e+06
    return f"plan-{day}-{amount}" + (f"-{segment}" if segment else "")


def plan_offers(
    customers: pd.DataFrame,
    *,
    budget: float,
    settings: OfferSettings | None = None,
    uplift: pd.DataFrame | None = None,
    plan_id: str | None = None,
    as_of: dt.date | None = None,
    segment: str | None = None,
    source: str | None = None,
    unmeasured: Sequence[str] = (),
) -> OfferPlan:
    """Plan whom to give which action within ``budget``.

    Parameters
    ----------
    customers
        :data:`CUSTOMER_COLUMNS`, one row per customer in scope.
    budget
        Most total expected cost, in the reporting currency.
    settings
        The actions and limits (``[offers]`` of retain.toml); defaults when None.
    uplift
        :data:`UPLIFT_COLUMNS` from campaign history; None falls back to
        :func:`heuristic_uplift` and the plan says so.
    plan_id
        Names the plan and seeds its holdout; derived from date, budget and segment when None.
    source
        Where ``uplift`` came from, named in every output (ignored for the heuristic).
    unmeasured
        Actions whose stored uplift has no measured groups (an older version scored it:
        :attr:`retain.models.uplift.scores.StoredUplift.unmeasured`); without an interval, every
        output names them and says how to score them again.
    """
    conf = settings or OfferSettings()
    if not np.isfinite(budget) or budget < 0:
        raise InvalidParameterError(
            t("offers.bad_budget", value=budget), hint=t("offers.bad_budget_hint")
        )
    _check(customers, CUSTOMER_COLUMNS, "customers")
    actions = conf.candidate_actions()
    names = [a.name for a in actions]
    heuristic = uplift is None
    frame = heuristic_uplift(customers, actions) if uplift is None else uplift
    _check(frame, UPLIFT_COLUMNS, "uplift")
    up, honest = _matrices(customers, frame, names)
    errors = None if heuristic else _errors(customers, frame, names)

    clv = customers["clv"].to_numpy(dtype=np.float64)
    clv = np.where(np.isfinite(clv), clv, 0.0)
    risk = customers["churn_probability"].to_numpy(dtype=np.float64)
    p_stay = 1.0 - risk
    value = np.nan_to_num(customers["order_value"].to_numpy(dtype=np.float64))
    contact = np.array([a.cost_per_contact for a in actions])
    share = np.array([a.discount_share for a in actions])

    def cost_of(u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        redeem = np.clip(p_stay[:, None] + np.nan_to_num(u), 0.0, 1.0)
        out: npt.NDArray[np.float64] = contact[None, :] + share[None, :] * value[:, None] * redeem
        return out

    cost = cost_of(up)
    profit = up * clv[:, None] - cost
    cost_honest = cost_of(honest)
    profit_honest = honest * clv[:, None] - cost_honest
    refuted = (
        []
        if errors is None
        else refuted_actions(
            names,
            profit,
            up,
            profit_honest,
            clv[:, None] - share[None, :] * value[:, None],
            errors,
            min_uplift=conf.min_uplift,
        )
    )
    if refuted:  # no one is chosen for them: as if their model had no estimate
        up = up.copy()
        up[:, [names.index(r.action) for r in refuted]] = np.nan
        cost = cost_of(up)
        profit = up * clv[:, None] - cost
    capacity = np.array(
        [-1 if a.capacity_per_week is None else a.capacity_per_week * conf.weeks for a in actions],
        dtype=np.int64,
    )
    choice = choose(
        profit,
        cost,
        up,
        p_stay,
        budget=budget,
        capacity=capacity,
        stay_probability=conf.stay_probability,
        min_uplift=conf.min_uplift,
    )
    pid = plan_id or _plan_id(as_of, budget, segment)
    decisions = _decisions(
        customers,
        choice.action,
        choice.reason,
        names,
        up,
        honest,
        cost_honest,
        profit_honest,
        profit,
    )
    chosen = (decisions["action"] != "nothing").to_numpy()
    held = np.zeros(len(decisions), dtype=bool)
    held[chosen] = holdout_mask(pid, decisions["customer_id"][chosen], conf.holdout_share)
    decisions.loc[held, "status"] = "holdout"
    decisions.loc[held, "reason"] = "holdout"
    summary = dataclasses.replace(
        _summary(decisions, actions, conf, budget, clv),
        refuted=refuted,
        chosen_profit=choice.profit,
        best_possible=choice.upper_bound,
        solver=choice.solver,
    )
    if errors is not None:
        spend = share[None, :] * value[:, None]
        contacted = chosen & ~held
        found = _profit_interval(
            summary.expected_profit, contacted, choice.action, errors, honest, p_stay, clv, spend
        )
        if found is not None:
            summary = dataclasses.replace(summary, profit_low=found[0], profit_high=found[1])
    order = {"target": 0, "holdout": 1, "left_out": 2}
    decisions = decisions.assign(_o=decisions["status"].map(order)).sort_values(
        ["_o", "expected_profit"], ascending=[True, False], kind="stable", ignore_index=True
    )
    return OfferPlan(
        plan_id=pid,
        as_of=as_of,
        decisions=decisions.drop(columns="_o"),
        summary=summary,
        heuristic=heuristic,
        response_rates={a.name: a.assumed_response_rate for a in actions} if heuristic else {},
        source=None if heuristic else source,
        unmeasured=() if heuristic else tuple(unmeasured),
    )


def _decisions(
    customers: pd.DataFrame,
    action: npt.NDArray[np.int64],
    reason: npt.NDArray[np.object_],
    names: Sequence[str],
    up: npt.NDArray[np.float64],
    honest: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    profit_honest: npt.NDArray[np.float64],
    profit: npt.NDArray[np.float64],
) -> pd.DataFrame:
    rows = np.arange(len(customers))
    picked = action != NOTHING
    col = np.where(picked, action, 0)

    def at(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(picked, matrix[rows, col], np.nan) if len(rows) else np.array([])

    labels = np.array([*names, "nothing"], dtype=object)
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "status": np.where(picked, "target", "left_out"),
            "action": labels[np.where(picked, action, len(names))],
            "reason": np.where(picked, "target", reason),
            "churn_probability": customers["churn_probability"].to_numpy(dtype=np.float64),
            "clv": customers["clv"].to_numpy(dtype=np.float64),
            "uplift": at(up),
            "uplift_honest": at(honest),
            "expected_cost": np.where(picked, at(cost), 0.0),
            "expected_profit": np.where(picked, at(profit_honest), 0.0),
            "naive_profit": np.where(picked, at(profit), 0.0),
        }
    )


def _summary(
    decisions: pd.DataFrame,
    actions: Sequence[OfferAction],
    conf: OfferSettings,
    budget: float,
    clv: npt.NDArray[np.float64],
) -> PlanSummary:
    targets = decisions[decisions["status"] == "target"]
    reasons = decisions.loc[decisions["status"] == "left_out", "reason"].value_counts()
    cost = float(targets["expected_cost"].sum())
    profit = float(targets["expected_profit"].sum())
    losses = targets["expected_profit"] < 0
    per_action = targets.groupby("action")[["expected_cost", "expected_profit"]].sum()
    counts = targets["action"].value_counts()
    return PlanSummary(
        customers=len(decisions),
        targets=len(targets),
        holdout=int((decisions["status"] == "holdout").sum()),
        left_out={r: int(reasons.get(r, 0)) for r in LEFT_OUT_REASONS},
        budget=budget,
        total_cost=cost,
        expected_profit=profit,
        naive_profit=float(targets["naive_profit"].sum()),
        roi=profit / cost if cost > 0 else None,
        what_if_points=conf.what_if_points,
        what_if_profit=conf.what_if_points / 100.0 * float(clv.sum()),
        actions=[
            ActionSummary(
                action=a.name,
                customers=int(counts.get(a.name, 0)),
                cost=float(per_action["expected_cost"].get(a.name, 0.0)),
                expected_profit=float(per_action["expected_profit"].get(a.name, 0.0)),
                capacity=None if a.capacity_per_week is None else a.capacity_per_week * conf.weeks,
            )
            for a in actions
        ],
        measured_losses=int(losses.sum()),
        measured_loss_profit=float(targets.loc[losses, "expected_profit"].sum()),
    )
