"""An exact solver of the planner's problem for a handful of customers (tests only).

Tries every assignment of one action or nothing per customer ((k + 1)^n of them) and keeps the
most profitable one within the budget and the capacities: the yardstick for the greedy.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt


def exact_profit(
    profit: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    *,
    budget: float,
    capacity: npt.NDArray[np.int64],
) -> float:
    """The highest total profit of any feasible assignment (0 when none pays)."""
    n, k = profit.shape
    best = 0.0
    for pick in itertools.product(range(-1, k), repeat=n):
        total_cost = 0.0
        total = 0.0
        used = np.zeros(k, dtype=np.int64)
        for i, a in enumerate(pick):
            if a < 0:
                continue
            total_cost += cost[i, a]
            total += profit[i, a]
            used[a] += 1
        if total_cost > budget + 1e-9:
            continue
        if np.any((capacity >= 0) & (used > capacity)):
            continue
        best = max(best, total)
    return best
