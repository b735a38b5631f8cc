"""The greedy walk against an exact solver on small cases (tests/targeting/_offers_exact.py).

The planner solves tiny problems exactly (``EXACT_LIMIT``) and larger ones with the better of
the greedy walk and the Lagrangian relaxation (tests/targeting/test_offers_solver.py);
``exact_limit=0, relax=False`` leaves the walk alone, to measure it on cases small enough to
solve exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from _offers_exact import exact_profit
from hypothesis import given, settings
from hypothesis import strategies as st

from retain.targeting.offers import choose
from retain.targeting.offers.optimize import EXACT_LIMIT


def _case(
    seed: int, k: int, with_capacity: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    profit = rng.normal(1.0, 2.0, (n, k))
    cost = rng.uniform(0.1, 3.0, (n, k))
    capacity = rng.integers(-1, 3, k) if with_capacity else np.full(k, -1)
    return profit, cost, capacity.astype(np.int64), float(rng.uniform(0.0, 6.0))


def _greedy(
    profit: np.ndarray,
    cost: np.ndarray,
    capacity: np.ndarray,
    budget: float,
    *,
    exact: int = 0,
    relax: bool = False,
) -> float:
    """The chosen plan's profit: the greedy alone, or the planner as shipped with ``exact``
    and ``relax``."""
    n = profit.shape[0]
    choice = choose(
        profit,
        cost,
        np.ones_like(profit),
        np.zeros(n),
        budget=budget,
        capacity=capacity,
        exact_limit=exact,
        relax=relax,
    )
    picked = choice.action >= 0
    spent = float(cost[np.flatnonzero(picked), choice.action[picked]].sum())
    assert spent <= budget + 1e-9
    for a in np.flatnonzero(capacity >= 0):
        assert (choice.action == a).sum() <= capacity[a]
    return float(profit[np.flatnonzero(picked), choice.action[picked]].sum())


@pytest.mark.parametrize("seed", range(40))
def test_without_limits_the_greedy_is_optimal(seed: int) -> None:
    """Budget and capacity not binding: each customer's most profitable action, as the optimum."""
    profit, cost, _, _ = _case(seed, 3, with_capacity=False)
    unlimited = np.full(3, -1, dtype=np.int64)
    budget = float(cost.sum()) + 1.0
    assert _greedy(profit, cost, unlimited, budget) == pytest.approx(
        exact_profit(profit, cost, budget=budget, capacity=unlimited)
    )


@pytest.mark.parametrize("seed", range(60))
def test_one_action_is_within_the_knapsack_bound(seed: int) -> None:
    """One action, a budget: greedy + the best single profit >= optimum (Dantzig's bound), and
    so greedy >= half the optimum (the better of the walk and the best single pair)."""
    profit, cost, capacity, budget = _case(seed, 1, with_capacity=False)
    greedy = _greedy(profit, cost, capacity, budget)
    optimum = exact_profit(profit, cost, budget=budget, capacity=capacity)
    assert greedy <= optimum + 1e-9
    assert greedy >= optimum / 2 - 1e-9
    assert greedy + max(0.0, float(profit.max())) >= optimum - 1e-9


def test_measured_gap_with_actions_and_capacities() -> None:
    """300 random small cases with 1-3 actions and capacities. The greedy alone reaches 97 % of
    the optimum on average (median 100 %, never below 50 % here, though not bounded in general
    with several actions); the planner, exact on problems this small, reaches it every time.
    docs/offers.md quotes these numbers."""
    ratios = []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        k = int(rng.integers(1, 4))
        profit, cost, capacity, budget = _case(seed + 10_000, k, with_capacity=True)
        optimum = exact_profit(profit, cost, budget=budget, capacity=capacity)
        greedy = _greedy(profit, cost, capacity, budget)
        assert greedy <= optimum + 1e-9
        planned = _greedy(profit, cost, capacity, budget, exact=EXACT_LIMIT)
        assert planned == pytest.approx(optimum, abs=1e-9)
        ratios.append(greedy / optimum if optimum > 0 else 1.0)
    assert np.mean(ratios) >= 0.95
    assert np.median(ratios) == pytest.approx(1.0)
    assert min(ratios) >= 0.5


@st.composite
def _one_action(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    """Up to 11 customers, one action, no capacity, each decision affordable on its own."""
    n = draw(st.integers(1, 11))
    budget = draw(st.floats(0.05, 30.0))
    values = st.floats(-5.0, 10.0, allow_nan=False)
    profit = np.array(draw(st.lists(values, min_size=n, max_size=n)))[:, None]
    costs = st.floats(0.01, budget, allow_nan=False)
    cost = np.array(draw(st.lists(costs, min_size=n, max_size=n)))[:, None]
    return profit, cost, budget


@settings(max_examples=300, deadline=None)
@given(_one_action())
def test_the_greedy_is_at_least_half_the_optimum(
    case: tuple[np.ndarray, np.ndarray, float],
) -> None:
    """The worst case, as a bound: with one action, whenever each decision fits the budget on
    its own, the walk or the best single pair (whichever is worth more) reaches half the
    optimum (Dantzig: walk + best single >= optimum). A decision costing more than the whole
    budget is outside the bound: ranked first, it stops the walk (docs/offers.md)."""
    profit, cost, budget = case
    unlimited = np.full(1, -1, dtype=np.int64)
    optimum = exact_profit(profit, cost, budget=budget, capacity=unlimited)
    greedy = _greedy(profit, cost, unlimited, budget)
    assert optimum / 2 - 1e-9 <= greedy <= optimum + 1e-9
    best_single = max(0.0, float(profit.max()))
    assert greedy + best_single >= optimum - 1e-9


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_a_tiny_plan_is_the_optimum(seed: int) -> None:
    """Where one decision can be the whole budget (a few customers, any actions and
    capacities), the planner is exact."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    profit = rng.normal(1.0, 2.0, (n, k))
    cost = rng.exponential(1.0, (n, k)) + 0.01
    capacity = rng.integers(-1, 3, k).astype(np.int64)
    budget = float(rng.uniform(0.0, cost.sum()))
    if (k + 1) ** int((profit > 0).any(axis=1).sum()) > EXACT_LIMIT:
        return
    optimum = exact_profit(profit, cost, budget=budget, capacity=capacity)
    planned = _greedy(profit, cost, capacity, budget, exact=EXACT_LIMIT)
    assert planned == pytest.approx(optimum, abs=1e-9)


def _reference_walk(
    profit: np.ndarray, cost: np.ndarray, capacity: np.ndarray, budget: float
) -> list[int]:
    """The walk as the docstring states it, one customer at a time (no single-pair rule)."""
    n, k = profit.shape
    ok = profit > 0
    masked = np.where(ok, profit, -np.inf)
    best = [int(np.argmax(masked[i])) for i in range(n)]
    ratio = [profit[i, best[i]] / cost[i, best[i]] for i in range(n)]
    seq = sorted(
        (i for i in range(n) if ok[i, best[i]]), key=lambda i: (-ratio[i], -profit[i, best[i]], i)
    )
    left = [int(c) for c in capacity]
    picked = [-1] * n
    remaining = budget + 1e-9
    for i in seq:
        options = sorted((a for a in range(k) if ok[i, a]), key=lambda a: -profit[i, a])
        free = [a for a in options if left[a] != 0]
        if not free:
            continue
        a = free[0]
        if cost[i, a] > remaining:
            break
        remaining -= cost[i, a]
        left[a] -= 1 if left[a] > 0 else 0
        picked[i] = a
    return picked


@pytest.mark.parametrize("seed", range(200))
def test_vectorized_walk_is_the_stated_walk(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 40)), int(rng.integers(1, 5))
    profit = rng.normal(1.0, 2.0, (n, k))
    cost = rng.uniform(0.1, 3.0, (n, k))
    capacity = rng.integers(-1, 6, k).astype(np.int64)
    budget = float(rng.uniform(0.0, 40.0))
    expected = _reference_walk(profit, cost, capacity, budget)
    choice = choose(
        profit,
        cost,
        np.ones_like(profit),
        np.zeros(n),
        budget=budget,
        capacity=capacity,
        exact_limit=0,
        relax=False,
    )
    walked = sum(profit[i, a] for i, a in enumerate(expected) if a >= 0)
    if choice.action.tolist() != expected:
        # Only the single-pair rule may differ, and only when it is worth more.
        picked = np.flatnonzero(choice.action >= 0)
        assert picked.size == 1
        assert profit[picked[0], choice.action[picked[0]]] > walked
