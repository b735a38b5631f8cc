"""Choosing who gets what: the plan behind the offers, and why everyone else is left out.

Each customer may get one action or nothing. A (customer, action) pair is *eligible* when its
expected incremental profit is positive and its uplift is at least ``min_uplift``; nothing
else is ever chosen, so an action with negative expected profit never is. The problem is a
multiple-choice knapsack with per-action capacities; three solvers answer it:

* a **tiny** problem (at most :data:`EXACT_LIMIT` assignments: e.g. six customers with three
  actions) is solved exactly, by enumeration;
* the **greedy walk** (``_walk``): every eligible customer is ranked by the profit per unit of
  cost of their most profitable eligible action (free actions first), ties by that profit;
  walking down, a customer gets their most profitable action that still has capacity ("over
  capacity" when none has); the walk stops at the first customer who no longer fits the
  budget ("over budget" for them and everyone after); when the single most profitable pair
  that fits beats the walk, the plan is that one pair. Stopping at the first misfit makes the
  plan at a larger budget a superset of the one at a smaller budget;
* the **Lagrangian relaxation** (:mod:`~retain.targeting.offers.relax`): prices for the
  budget and the capacities, each customer's best option at them, repaired and filled. With
  ``m`` = 1 + the capacities that can bind and ``pmax`` the largest single pair profit, it is
  within ``m * pmax`` of the optimum at a budget, and the planner keeps the best of its plans
  for a fixed grid of budgets, within ``(m + 1/4) * pmax``.

Beyond tiny problems the plan is the better of the walk and the relaxation. Both are
monotone in the budget (a superset; the best of a family that only grows with the budget),
so the better of them is too: **more budget never lowers the expected profit**. With several
actions the walk alone has no bound (35 % of the optimum on a five-customer case, 83 % on the
benchmark's million); the relaxation's dual value is returned as a certified upper bound on
any plan (:attr:`Choice.upper_bound`). ``tests/targeting/test_offers_solver.py`` checks the
bounds against the exact solver; docs/offers.md gives the measured gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retain.targeting.offers.relax import monotone_plan, upper_bound

__all__ = [
    "EXACT_LIMIT",
    "LEFT_OUT_REASONS",
    "NOTHING",
    "OVER_BUDGET",
    "OVER_CAPACITY",
    "Choice",
    "choose",
]

FloatMatrix = npt.NDArray[np.float64]
NOTHING = -1
"""The action index of doing nothing."""
WOULD_STAY = "would_stay"
NOT_WORTH = "not_worth_cost"
UNLIKELY = "unlikely_to_respond"
OVER_CAPACITY = "over_capacity"
OVER_BUDGET = "over_budget"
LEFT_OUT_REASONS = (WOULD_STAY, NOT_WORTH, UNLIKELY, OVER_CAPACITY, OVER_BUDGET)
"""Why a customer is deliberately left out, in the order the outputs list them."""


EXACT_LIMIT = 4096
"""Problems with at most this many assignments ((actions + 1) ^ customers with an eligible
action) are solved exactly by enumeration instead of by the greedy."""


@dataclass(frozen=True)
class Choice:
    """The planner's answer: per customer an action index (:data:`NOTHING`) and a reason."""

    action: npt.NDArray[np.int64]
    reason: npt.NDArray[np.object_]
    """``""`` for a chosen customer, else one of :data:`LEFT_OUT_REASONS`."""
    profit: float = 0.0
    """Total expected incremental profit of the chosen pairs (by the ``profit`` it was given)."""
    upper_bound: float = 0.0
    """Certified: no plan within the budget and capacities has more expected profit (the
    optimum itself when solved exactly, else the Lagrangian dual value). ``upper_bound -
    profit`` is how much more the best possible plan could bring, under the same estimates."""
    solver: str = "none"
    """Which plan won: ``exact``, ``walk`` (the ranked walk or its best single pair),
    ``relaxation``, or ``none`` (nothing eligible)."""


def _unfit_reasons(
    uplift: FloatMatrix, p_stay: npt.NDArray[np.float64], stay_probability: float, min_uplift: float
) -> npt.NDArray[np.object_]:
    """Why a customer with no eligible action has none."""
    best_uplift = np.nanmax(np.where(np.isfinite(uplift), uplift, -np.inf), axis=1, initial=-np.inf)
    return np.where(
        p_stay >= stay_probability,
        WOULD_STAY,
        np.where(best_uplift < min_uplift, UNLIKELY, NOT_WORTH),
    ).astype(object)


def choose(
    profit: FloatMatrix,
    cost: FloatMatrix,
    uplift: FloatMatrix,
    p_stay: npt.NDArray[np.float64],
    *,
    budget: float,
    capacity: npt.NDArray[np.int64],
    stay_probability: float = 0.9,
    min_uplift: float = 0.0,
    exact_limit: int = EXACT_LIMIT,
    relax: bool = True,
) -> Choice:
    """Pick at most one action per customer, most profit per cost first, within the limits.

    Parameters
    ----------
    profit, cost, uplift
        ``(customers, actions)`` expected incremental profit, expected cost and uplift of each
        pair (NaN: no estimate, never chosen).
    p_stay
        Each customer's probability of staying without any action.
    budget
        Most total expected cost.
    capacity
        Most customers per action; negative means no limit.
    stay_probability, min_uplift
        Label the left-out customers ("would stay anyway" at or above ``stay_probability``;
        "unlikely to respond" below ``min_uplift``, which also makes a pair ineligible).
    exact_limit
        Solve exactly when there are at most this many assignments (0: never).
    relax
        Also plan by the Lagrangian relaxation and keep the better plan (False: the walk and
        its best single pair alone, as the tests measure them).
    """
    n = profit.shape[0]
    eligible = np.isfinite(profit) & np.isfinite(cost) & (profit > 0) & (uplift >= min_uplift)
    masked = np.where(eligible, profit, -np.inf)
    order = np.argsort(-masked, axis=1, kind="stable")
    rows = np.arange(n)
    best = order[:, 0]
    has = eligible[rows, best]
    action = np.full(n, NOTHING, dtype=np.int64)
    reason = np.full(n, "", dtype=object)
    unfit = ~has
    reason[unfit] = _unfit_reasons(uplift[unfit], p_stay[unfit], stay_probability, min_uplift)

    best_profit = masked[rows, best]
    best_cost = cost[rows, best]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(best_cost > 0, best_profit / best_cost, np.inf)
    candidates = np.flatnonzero(has)
    seq = candidates[np.lexsort((-best_profit[candidates], -ratio[candidates]))]

    if _exact(profit, cost, eligible, candidates, capacity, budget, exact_limit, action, reason):
        total = _total(profit, action)
        return Choice(action, reason, total, total, "exact")
    if (capacity < 0).all():
        spent = np.cumsum(best_cost[seq])
        fits = spent <= budget + 1e-9
        stop = int(np.argmin(fits)) if not fits.all() else seq.size
        action[seq[:stop]] = best[seq[:stop]]
        reason[seq[stop:]] = OVER_BUDGET
    else:
        _walk(seq, order, eligible, cost, capacity, budget, action, reason)
    _single_if_better(profit, cost, eligible, capacity, budget, action, reason)
    # The walk calls everyone after its first misfit "over budget"; one whose every paying
    # action is full by the end would not get one with more budget either: "over capacity".
    _left_out(eligible, capacity, candidates, action, reason)
    if candidates.size == 0:
        return Choice(action, reason, 0.0, 0.0, "none")
    usable = eligible[candidates] & (capacity != 0)[None, :]
    sub_profit = np.where(usable, profit[candidates], -np.inf)
    sub_cost = np.where(usable, cost[candidates], 0.0)
    solver = "walk"
    # No plan spends more than each customer's costliest action or nothing (0, when every action
    # costs less: a negative discount cost): an unlimited budget is that.
    room = min(budget, float(np.maximum(sub_cost.max(axis=1), 0.0).sum()))
    if relax and room >= 0:
        plan = monotone_plan(sub_profit, sub_cost, capacity, room, _total(profit, action))
        if plan is not None:
            action[candidates] = plan.action
            reason[candidates] = ""
            _left_out(eligible, capacity, candidates, action, reason)
            solver = "relaxation"
    total = _total(profit, action)
    upper = max(upper_bound(sub_profit, sub_cost, capacity, max(room, 0.0), total), total)
    return Choice(action, reason, total, upper, solver)


def _total(profit: FloatMatrix, action: npt.NDArray[np.int64]) -> float:
    """The chosen pairs' total profit."""
    rows = np.flatnonzero(action != NOTHING)
    return float(profit[rows, action[rows]].sum())


def _left_out(
    eligible: npt.NDArray[np.bool_],
    capacity: npt.NDArray[np.int64],
    candidates: npt.NDArray[np.int64],
    action: npt.NDArray[np.int64],
    reason: npt.NDArray[np.object_],
) -> None:
    """Label the candidates left out, for the exact and the relaxed plans.

    "Over capacity" when every action that pays for them is full, else "over budget" (the
    budget went to customers worth more per cost).
    """
    k = eligible.shape[1]
    picked = action[action != NOTHING]
    full = (capacity >= 0) & (np.bincount(picked, minlength=k) >= capacity)
    out = candidates[action[candidates] == NOTHING]
    open_action = (eligible[out] & ~full[None, :]).any(axis=1)
    reason[out] = np.where(open_action, OVER_BUDGET, OVER_CAPACITY)


def _exact(
    profit: FloatMatrix,
    cost: FloatMatrix,
    eligible: npt.NDArray[np.bool_],
    candidates: npt.NDArray[np.int64],
    capacity: npt.NDArray[np.int64],
    budget: float,
    limit: int,
    action: npt.NDArray[np.int64],
    reason: npt.NDArray[np.object_],
) -> bool:
    """Solve a tiny problem exactly (filled into ``action`` / ``reason``); False when too big.

    A tiny problem is where the greedy is weakest: one decision can be the whole budget. The
    optimum is also monotone in the budget, as the greedy is.
    """
    m, k = candidates.size, profit.shape[1]
    if m == 0 or (k + 1) ** m > limit:
        return False
    picks = np.stack(np.meshgrid(*[np.arange(-1, k)] * m, indexing="ij"), axis=-1).reshape(-1, m)
    rows = candidates[None, :]
    col = np.maximum(picks, 0)
    ok = (picks < 0) | eligible[rows, col]
    take = picks >= 0
    total = np.where(take, profit[rows, col], 0.0).sum(axis=1)
    spent = np.where(take, cost[rows, col], 0.0).sum(axis=1)
    feasible = ok.all(axis=1) & (spent <= budget + 1e-9)
    for a in np.flatnonzero(capacity >= 0):
        feasible &= (picks == a).sum(axis=1) <= capacity[a]
    total = np.where(feasible, total, -np.inf)
    best = picks[int(np.argmax(total))]  # the empty plan is always feasible
    action[candidates] = best
    _left_out(eligible, capacity, candidates, action, reason)
    return True


def _single_if_better(
    profit: FloatMatrix,
    cost: FloatMatrix,
    eligible: npt.NDArray[np.bool_],
    capacity: npt.NDArray[np.int64],
    budget: float,
    action: npt.NDArray[np.int64],
    reason: npt.NDArray[np.object_],
) -> None:
    """Keep the single most profitable pair that fits instead, when it beats the walk.

    The walk can stop early when one costly customer ranks first; taking the better of the two
    makes the greedy a 1/2-approximation of the optimum with one action (the classical
    knapsack bound) and, both being monotone in the budget, keeps more budget never worse.
    """
    fits = eligible & (cost <= budget + 1e-9) & (capacity != 0)[None, :]
    if not fits.any():
        return
    single = np.where(fits, profit, -np.inf)
    i, a = np.unravel_index(int(np.argmax(single)), single.shape)
    picked = action != NOTHING
    walked = float(profit[np.flatnonzero(picked), action[picked]].sum())
    if single[i, a] <= walked:
        return
    reason[picked] = OVER_BUDGET
    action[:] = NOTHING
    action[i] = a
    reason[i] = ""


def _walk(
    seq: npt.NDArray[np.int64],
    order: npt.NDArray[np.int64],
    eligible: npt.NDArray[np.bool_],
    cost: FloatMatrix,
    capacity: npt.NDArray[np.int64],
    budget: float,
    action: npt.NDArray[np.int64],
    reason: npt.NDArray[np.object_],
) -> None:
    """The ranked walk with capacities (filled into ``action`` / ``reason``).

    Vectorized in stretches: while the set of full actions stays the same, every customer's
    pick is their most profitable eligible action that is not full, so a stretch is assigned
    at once up to the first customer who would overfill an action (which then becomes full)
    or overspend the budget. There are at most one stretch per limited action, plus one.
    """
    m, k = seq.size, order.shape[1]
    ranked = order[seq]
    ok_ranked = np.take_along_axis(eligible[seq], ranked, axis=1)
    cost_ranked = np.take_along_axis(cost[seq], ranked, axis=1)
    limited = capacity >= 0
    left = np.where(limited, capacity, 0).astype(np.int64)
    full = limited & (left == 0)
    remaining = budget + 1e-9
    pos = 0
    while pos < m:
        ok = ok_ranked[pos:] & ~full[ranked[pos:]]
        has = ok.any(axis=1)
        j = ok.argmax(axis=1)
        rows = np.arange(m - pos)
        pick = np.where(has, ranked[pos:][rows, j], NOTHING)
        price = np.where(has, cost_ranked[pos:][rows, j], 0.0)
        end = m - pos
        for b in np.flatnonzero(limited & ~full):
            over = np.flatnonzero(np.cumsum(pick == b) > left[b])
            if over.size:
                end = min(end, int(over[0]))
        spent = np.cumsum(price[:end])
        broke = np.flatnonzero(spent > remaining)
        stop = int(broke[0]) if broke.size else end
        block = seq[pos : pos + stop]
        action[block] = pick[:stop]
        reason[block[~has[:stop]]] = OVER_CAPACITY
        if broke.size:
            reason[seq[pos + stop :]] = OVER_BUDGET
            return
        remaining -= float(spent[-1]) if stop else 0.0
        taken = np.bincount(pick[:stop][has[:stop]], minlength=k)
        left -= np.where(limited, taken, 0)
        full |= limited & (left <= 0)
        pos += stop
