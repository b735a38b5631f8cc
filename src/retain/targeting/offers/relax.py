"""The Lagrangian (LP) relaxation of the planner's problem: a plan with a proven gap, and a bound.

The problem: each customer ``i`` gets at most one action ``a`` (profit ``p[i, a]``, cost
``c[i, a]``), total cost at most the budget ``B``, at most ``cap[a]`` customers per limited
action. Price the budget at ``lam >= 0`` and each capacity at ``mu[a] >= 0``; then customers
decouple, each taking the option with the largest reduced profit ``p - lam * c - mu[a]`` (or
nothing, worth 0), and for *any* such prices

    D(lam, mu) = lam * B + sum_a mu[a] * cap[a] + sum_i max(0, max_a(p[i, a] - lam c[i, a] - mu[a]))

is at least the optimum of the LP relaxation, so of the plan (weak duality): a certified upper
bound. Its minimum over the prices is the LP optimum.

:func:`relaxed_plan` searches the prices (exact minimization along one price at a time: the
budget's by bisection on the cost, which is monotone in it; a capacity's by a partition, the
(cap + 1)-th largest advantage of that action), takes each customer's best option at them,
repairs to feasibility (drops the weakest customers of an overfull action, then the lowest
reduced profits until the budget fits) and fills what is left greedily. The LP relaxation has
a basic optimum with at most ``m`` = 1 + (capacities that can bind) fractional customers, so
rounding it down loses at most ``m`` times the largest single profit ``pmax``:

    plan >= LP - m * pmax >= OPT - m * pmax.

The searched plan is checked against that (plan >= D - m * pmax, which implies it, D being at
least the LP); when the check fails (few customers, ties, a stalled search) the LP is solved
exactly (HiGHS dual simplex, a basic solution) and rounded down instead, so the bound always
holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import linprog

__all__ = [
    "Relaxed",
    "bound_terms",
    "dual_value",
    "monotone_plan",
    "prices",
    "relaxed_plan",
    "upper_bound",
]

log = logging.getLogger(__name__)
FloatMatrix = npt.NDArray[np.float64]
IntVector = npt.NDArray[np.int64]

_FILL_ROUNDS = 200
"""At most this many rounds of the greedy fill (each adds at least one customer)."""
_CYCLES = 12
"""At most this many rounds of the price search (one step per price each)."""
_LAM_MAX = 1e280
"""The largest budget price tried (finite, so that price x cost stays a number)."""
_GRID_SHARE = 0.25
"""Neighbouring budgets of the grid are ``_GRID_SHARE * pmax / psum`` apart (relative)."""
_GRID_EVALUATIONS = 1000
"""At most this many budgets of the grid are planned for one call. Pruning stops far sooner
(6.6 on average and 154 at most in 2,000 random cases of 2-30 customers, two for a million).
It can be reached where many customers are identical and the budget is small (the rounded
plan stays a whole customer below the LP for many grid steps: 100 budgets at 328 customers,
growing with the count); budgets further down then go unplanned, monotonicity is no longer
guaranteed, and a warning says by how much a smaller budget could plan more."""


@dataclass(frozen=True)
class Relaxed:
    """A feasible plan from the relaxation and the prices that certify its bound."""

    action: IntVector
    """Per customer the action index, or -1 for nothing."""
    value: float
    """Total profit of ``action``."""
    lam: float
    mu: FloatMatrix
    dual: float
    """``D(lam, mu)`` at this budget: at least the optimum (and the LP optimum)."""
    budget: float
    """The budget it was planned for."""


def dual_value(
    profit: FloatMatrix,
    cost: FloatMatrix,
    cap: FloatMatrix,
    budget: float,
    lam: float,
    mu: FloatMatrix,
) -> float:
    """``D(lam, mu)``: an upper bound on any plan's profit (ineligible pairs are ``-inf``)."""
    reduced = profit - lam * cost - mu[None, :]
    best = np.maximum(reduced.max(axis=1, initial=-np.inf), 0.0)
    return float(lam * budget + float(mu @ cap) + best.sum())


def _choice(reduced: FloatMatrix) -> IntVector:
    """Each customer's best option at these prices (-1: nothing pays)."""
    if reduced.shape[1] == 0:
        return np.full(reduced.shape[0], -1, dtype=np.int64)
    best = reduced.argmax(axis=1)
    top = reduced[np.arange(reduced.shape[0]), best]
    return np.where(top > 0, best, -1).astype(np.int64)


def _spend(cost: FloatMatrix, pick: IntVector) -> float:
    rows = np.flatnonzero(pick >= 0)
    return float(cost[rows, pick[rows]].sum())


def _best_lam(q: FloatMatrix, cost: FloatMatrix, budget: float, guess: float = 0.0) -> float:
    """The smallest budget price whose choice fits the budget (bisection, shrinking the set).

    A customer's chosen cost only falls as the price rises, and one whose choice is the same at
    both ends of the bracket keeps it in between: only the others are evaluated again. A
    ``guess`` (the previous round's price) starts from a narrow bracket around it.
    """
    at_lo = _choice(q)
    if _spend(cost, at_lo) <= budget:
        return 0.0
    lo = 0.0
    if guess > 0:
        hi = guess * 1.01
        at_hi = _choice(q - hi * cost)
        while _spend(cost, at_hi) > budget and hi < _LAM_MAX:
            lo, at_lo, hi = hi, at_hi, hi * 4
            at_hi = _choice(q - hi * cost)
        if lo == 0.0:
            lo = guess / 1.01
            at_lo = _choice(q - lo * cost)
            while _spend(cost, at_lo) <= budget:
                hi, at_hi = lo, at_lo
                lo = lo / 4 if lo > 1e-300 else 0.0
                at_lo = _choice(q - lo * cost)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = np.where((cost > 0) & (q > 0), q / cost, 0.0)
        hi = min(float(ratio.max()) * (1 + 1e-9) + 1e-12, _LAM_MAX)
        at_hi = _choice(q - hi * cost)
    same = at_lo == at_hi
    active = np.flatnonzero(~same)
    fixed = _spend(cost, np.where(same, at_hi, -1))
    qa, ca, lo_pick, hi_pick = q[active], cost[active], at_lo[active], at_hi[active]
    for _ in range(200):
        if qa.shape[0] == 0 or hi - lo <= 1e-13 * hi:
            break
        mid = 0.5 * (lo + hi)
        pick_mid = _choice(qa - mid * ca)
        if fixed + _spend(ca, pick_mid) > budget:
            lo, lo_pick = mid, pick_mid
        else:
            hi, hi_pick = mid, pick_mid
        same = lo_pick == hi_pick
        if same.any():
            fixed += _spend(ca[same], hi_pick[same])
            keep = ~same
            qa, ca, lo_pick, hi_pick = qa[keep], ca[keep], lo_pick[keep], hi_pick[keep]
    return hi


def _best_mu(reduced: FloatMatrix, a: int, cap: float) -> float:
    """The price of action ``a``'s capacity that minimizes ``D`` with the other prices fixed.

    ``reduced`` already excludes ``a``'s current price. Along ``mu[a]``, ``D`` falls by one for
    each customer whose advantage of ``a`` over their best other option exceeds it, and rises
    by ``cap``: the minimum lies between the cap-th and the (cap + 1)-th largest advantage.
    """
    others = np.delete(reduced, a, axis=1)
    rest = np.maximum(others.max(axis=1, initial=-np.inf), 0.0)
    advantage = reduced[:, a] - rest
    positive = advantage[advantage > 0]
    c = int(cap)
    if positive.size <= c:
        return 0.0
    top = np.partition(positive, positive.size - c - 1)[positive.size - c - 1 :]
    if c == 0:
        return float(top[0])
    low, high = np.partition(top, 1)[:2]
    return 0.5 * (float(low) + float(high))


def prices(
    profit: FloatMatrix, cost: FloatMatrix, cap: FloatMatrix, limited: IntVector, budget: float
) -> tuple[float, FloatMatrix, float]:
    """Search the budget and capacity prices; returns the best ``(lam, mu, D)`` found."""
    k = profit.shape[1]
    mu = np.zeros(k)
    lam = _best_lam(profit, cost, budget)
    best = (lam, mu.copy(), dual_value(profit, cost, cap, budget, lam, mu))
    if limited.size == 0:
        return best
    for _ in range(_CYCLES):
        for a in limited:
            mu[a] = 0.0
            mu[a] = _best_mu(profit - lam * cost - mu[None, :], int(a), float(cap[a]))
        lam = _best_lam(profit - mu[None, :], cost, budget, lam)
        value = dual_value(profit, cost, cap, budget, lam, mu)
        improved = value < best[2] - 1e-9 * max(1.0, abs(best[2]))
        if value < best[2]:
            best = (lam, mu.copy(), value)
        if not improved:
            break
    return best


def _repair(
    cost: FloatMatrix,
    cap: FloatMatrix,
    limited: IntVector,
    budget: float,
    pick: IntVector,
    reduced: FloatMatrix,
) -> IntVector:
    """Make ``pick`` feasible, dropping the weakest customers.

    An overfull action keeps its customers with the highest reduced profit; then the lowest
    reduced profits get nothing until the budget fits.
    """
    pick = pick.copy()
    rows = np.arange(pick.size)
    score = np.where(pick >= 0, reduced[rows, np.maximum(pick, 0)], -np.inf)
    for a in limited:
        members = np.flatnonzero(pick == a)
        extra = members.size - int(cap[a])
        if extra > 0:
            weakest = members[np.argsort(score[members], kind="stable")[:extra]]
            pick[weakest] = -1
    over = _spend(cost, pick) - budget
    if over > 0:
        chosen = np.flatnonzero(pick >= 0)
        chosen = chosen[np.argsort(score[chosen], kind="stable")]
        freed = np.cumsum(cost[chosen, pick[chosen]])
        drop = int(np.searchsorted(freed, over * (1 + 1e-12) + 1e-12)) + 1
        pick[chosen[:drop]] = -1
    return pick


def _fill(
    profit: FloatMatrix,
    cost: FloatMatrix,
    cap: FloatMatrix,
    limited: IntVector,
    budget: float,
    pick: IntVector,
) -> IntVector:
    """Spend what is left: repeatedly the best profit-per-cost improvements that still fit."""
    pick = pick.copy()
    n, k = profit.shape
    rows = np.arange(n)
    is_limited = np.zeros(k, dtype=bool)
    is_limited[limited] = True
    for _ in range(_FILL_ROUNDS):
        has = pick >= 0
        cur_p = np.where(has, profit[rows, np.maximum(pick, 0)], 0.0)
        cur_c = np.where(has, cost[rows, np.maximum(pick, 0)], 0.0)
        left = budget - float(cur_c.sum())
        used = np.bincount(pick[has], minlength=k)
        room = np.where(is_limited, cap - used, np.inf)
        gain = profit - cur_p[:, None]
        extra = cost - cur_c[:, None]
        ok = (gain > 0) & (extra <= left + 1e-9) & (room > 0)[None, :]
        if not ok.any():
            break
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = np.where(extra > 0, gain / extra, np.inf)
        ratio = np.where(ok, ratio, -np.inf)
        move = ratio.argmax(axis=1)
        movers = np.flatnonzero(ok[rows, move])
        g, e, to = gain[movers, move[movers]], extra[movers, move[movers]], move[movers]
        order = np.lexsort((-g, -ratio[movers, to]))
        movers, e, to = movers[order], e[order], to[order]
        fits = np.cumsum(e) <= left + 1e-9
        for a in limited:
            fits &= np.cumsum(to == a) <= room[a]
        stop = int(np.argmin(fits)) if not fits.all() else fits.size
        stop = max(stop, 1)
        pick[movers[:stop]] = to[:stop]
    return pick


def _lp_plan(
    profit: FloatMatrix, cost: FloatMatrix, cap: FloatMatrix, limited: IntVector, budget: float
) -> IntVector:
    """The LP relaxation solved exactly (a basic optimum), its fractional customers dropped."""
    return _lp_solve(profit, cost, cap, limited, budget)[0]


def _lp_solve(
    profit: FloatMatrix, cost: FloatMatrix, cap: FloatMatrix, limited: IntVector, budget: float
) -> tuple[IntVector, float | None, FloatMatrix | None]:
    """:func:`_lp_plan`, and the LP's optimal prices ``(lam, mu)`` (None when HiGHS gives none).

    The price search can stall at a kink of ``D`` (many tied customers: the budget price alone
    drops them all, and no capacity price is then worth raising), leaving ``D`` far above the
    LP; HiGHS's dual values are the LP's own prices, where ``D`` is the LP optimum.
    """
    n, k = profit.shape
    ii, aa = np.nonzero(np.isfinite(profit))
    m = ii.size
    pick = np.full(n, -1, dtype=np.int64)
    if m == 0:
        return pick, None, None
    blocks = [
        sparse.csr_matrix((np.ones(m), (ii, np.arange(m))), shape=(n, m)),
        sparse.csr_matrix(cost[ii, aa][None, :]),
    ]
    bounds = [np.ones(n), np.array([budget])]
    for a in limited:
        sel = np.flatnonzero(aa == a)
        blocks.append(
            sparse.csr_matrix((np.ones(sel.size), (np.zeros(sel.size), sel)), shape=(1, m))
        )
        bounds.append(np.array([cap[a]]))
    result = linprog(
        -profit[ii, aa],
        A_ub=sparse.vstack(blocks).tocsr(),
        b_ub=np.concatenate(bounds),
        bounds=(0, 1),
        method="highs-ds",
    )
    if result.x is None:
        return pick, None, None
    whole = np.flatnonzero(result.x >= 1 - 1e-7)
    pick[ii[whole]] = aa[whole]
    marginals = getattr(getattr(result, "ineqlin", None), "marginals", None)
    if marginals is None:
        return pick, None, None
    duals = np.maximum(-np.asarray(marginals, dtype=np.float64), 0.0)
    mu = np.zeros(k)
    mu[limited] = duals[n + 1 :]
    return pick, float(duals[n]), mu


def relaxed_plan(
    profit: FloatMatrix, cost: FloatMatrix, capacity: IntVector, budget: float
) -> Relaxed:
    """A feasible plan within ``m * pmax`` of the optimum, and the prices behind its bound.

    ``profit`` is ``-inf`` where a pair may not be chosen (``cost`` finite everywhere);
    ``capacity`` is negative where an action has no limit. The plan depends on the budget and
    the instance only (no state), so the planner can compare it across budgets.
    """
    cost = np.where(np.isfinite(profit), cost, 0.0)
    cap, limited = _limits(profit, capacity)
    lam, mu, dual = prices(profit, cost, cap, limited, budget)
    reduced = profit - lam * cost - mu[None, :]
    pick = _choice(reduced)
    pick = _fill(
        profit,
        cost,
        cap,
        limited,
        budget,
        _repair(cost, cap, limited, budget, pick, reduced),
    )
    value = _value(profit, pick)
    pmax = float(np.max(np.where(np.isfinite(profit), profit, 0.0), initial=0.0))
    m = 1 + limited.size
    if value < dual - m * pmax - 1e-9 * max(1.0, abs(dual)):
        exact, lp_lam, lp_mu = _lp_solve(profit, cost, cap, limited, budget)
        if lp_lam is not None and lp_mu is not None:
            lp_dual = dual_value(profit, cost, cap, budget, lp_lam, lp_mu)
            if lp_dual < dual:
                lam, mu, dual = lp_lam, lp_mu, lp_dual
        exact = _fill(
            profit,
            cost,
            cap,
            limited,
            budget,
            _repair(cost, cap, limited, budget, exact, reduced),
        )
        exact_value = _value(profit, exact)
        if exact_value > value:
            pick, value = exact, exact_value
    return Relaxed(pick, value, lam, mu, dual, budget)


def _limits(profit: FloatMatrix, capacity: IntVector) -> tuple[FloatMatrix, IntVector]:
    """Capacities as floats, and the actions whose capacity can bind (fewer slots than takers)."""
    eligible_count = np.isfinite(profit).sum(axis=0)
    limited = np.flatnonzero((capacity >= 0) & (capacity < eligible_count)).astype(np.int64)
    return np.where(capacity >= 0, capacity, 0).astype(np.float64), limited


def bound_terms(profit: FloatMatrix, capacity: IntVector) -> tuple[int, float]:
    """``(m, pmax)``: 1 + the capacities that can bind, and the largest single pair profit."""
    pmax = float(np.max(np.where(np.isfinite(profit), profit, 0.0), initial=0.0))
    return 1 + _limits(profit, capacity)[1].size, pmax


def upper_bound(
    profit: FloatMatrix,
    cost: FloatMatrix,
    capacity: IntVector,
    budget: float,
    achieved: float = -np.inf,
) -> float:
    """A certified upper bound on the best plan's profit at ``budget``: ``D`` at searched prices.

    When ``D`` is more than ``m * pmax`` above ``achieved`` (a feasible plan's profit), the
    search stalled (the LP is within ``m * pmax`` of any plan the relaxation rounds), and the
    LP's own prices (HiGHS) are tried as well: either is a valid bound, the lower is kept.
    """
    if profit.size == 0 or not np.isfinite(profit).any():
        return 0.0
    cost = np.where(np.isfinite(profit), cost, 0.0)
    cap, limited = _limits(profit, capacity)
    dual = prices(profit, cost, cap, limited, budget)[2]
    m, pmax = bound_terms(profit, capacity)
    if dual > achieved + m * pmax + 1e-9 * max(1.0, abs(dual)):
        _, lam, mu = _lp_solve(profit, cost, cap, limited, budget)
        if lam is not None and mu is not None:
            dual = min(dual, dual_value(profit, cost, cap, budget, lam, mu))
    return dual


def monotone_plan(
    profit: FloatMatrix, cost: FloatMatrix, capacity: IntVector, budget: float, floor: float
) -> Relaxed | None:
    """The best relaxed plan among those planned for a fixed grid of budgets up to ``budget``.

    Planning at ``budget`` itself would not be monotone (a larger budget can round worse); the
    best of a family of plans that does not depend on the budget, restricted to those that fit
    it, is: a larger budget only adds members. The family: the plan for an unlimited budget
    (when it fits), and the plans for the budgets ``top * rho ** j`` below its cost (those
    under the smallest cost collapse to 0), with ``1 - rho = pmax / (4 psum)``, ``psum`` the
    sum of each customer's best profit. The grid budget just below ``budget`` is at least
    ``rho * budget``, where the LP optimum is at least ``rho`` times the one at ``budget``
    (scale its solution), so at most ``pmax / 4`` less: with the relaxed plan's own
    ``m * pmax``, the best member is within ``(m + 1/4) * pmax`` of the optimum. Members
    further down are skipped once their certified bound ``D`` (linear in the budget at fixed
    prices) cannot beat ``floor`` or the best so far, so the result is the best of the whole
    family after planning a few budgets. None when no member beats ``floor``.
    """
    finite = np.isfinite(profit)
    if not finite.any():
        return None
    each = np.max(np.where(finite, profit, 0.0), axis=1)
    psum, pmax = float(each.sum()), float(each.max())
    if pmax <= 0:
        return None
    cost = np.where(finite, cost, 0.0)
    top = float(np.maximum(cost.max(axis=1), 0.0).sum())
    full = relaxed_plan(profit, cost, capacity, top)
    saturated = _spend(cost, full.action)
    members = [full] if saturated <= budget else []
    ceiling = min(budget, saturated)
    positive = cost[finite & (cost > 0)]
    if positive.size == 0:
        return _best(members, floor)
    smallest = float(positive.min())
    rho = 1.0 - min(_GRID_SHARE * pmax / psum, 0.5)

    def fits(j: int) -> bool:
        grid = top * rho**j
        return grid < saturated if members else grid <= budget

    j = 0
    start = max(ceiling, smallest * rho)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        steps = np.log(start / top) / np.log(rho) if start < top else 0.0
    if np.isfinite(steps):
        j = max(0, int(steps) - 1)
    while not fits(j) and top * rho**j >= smallest:
        j += 1
    while j > 0 and fits(j - 1):
        j -= 1
    best = bound = floor
    for _ in range(_GRID_EVALUATIONS):
        grid = top * rho**j
        last = grid < smallest
        plan = relaxed_plan(profit, cost, capacity, 0.0 if last else grid)
        members.append(plan)
        if last:
            break
        j += 1
        below = top * rho**j
        below = 0.0 if below < smallest else below
        best = max([floor] + [m.value for m in members])
        bound = min(m.dual - m.lam * (m.budget - below) for m in members)
        if bound <= best + 1e-12 * max(1.0, abs(best)):
            break
    else:
        log.warning(
            "offer planner: the budget grid stopped after %d budgets; those below may plan "
            "up to %.6g more than the best found, so a smaller budget may plan more",
            _GRID_EVALUATIONS,
            bound - best,
        )
    return _best(members, floor)


def _best(members: list[Relaxed], floor: float) -> Relaxed | None:
    winner = max(members, key=lambda m: m.value, default=None)
    return winner if winner is not None and winner.value > floor else None


def _value(profit: FloatMatrix, pick: IntVector) -> float:
    rows = np.flatnonzero(pick >= 0)
    return float(profit[rows, pick[rows]].sum())
