"""Actions the campaign's own measurement refutes, set aside before anyone is chosen.

An action's model can rank customers by noise: a campaign with no real effect (the demo's
"We miss you" reminder, planted at zero) still gives a fitted model positive estimates for
half the customers, and the planner would spend on them. The half of the campaign that model
never saw says otherwise: valued by what it measured for customers like them
(``uplift_honest``, :func:`~retain.models.uplift.halves.uplift_by_halves`), the customers the
model would choose bring a loss. When the whole 95 % interval of that loss lies below zero,
the action is not offered to anyone, the customers it would have gone to are "unlikely to
respond" (unless another action pays for them) and every output says why.

The test looks at every customer the action's model would choose (a positive expected profit by
the choosing estimates and enough uplift), not at a budget's share of them, so a plan stays
monotone in its budget. Each action's measurement comes from its own campaign, so setting one
aside does not bias the honest value of the others; an action is refuted only on strong evidence
(the interval's upper end below zero), so a working action is set aside with a chance of about
2.5 % at most. docs/offers.md, "Actions the campaign refutes".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["RefutedAction", "refuted_actions"]

FloatMatrix = npt.NDArray[np.float64]
Z95 = 1.959963984540054


@dataclass(frozen=True)
class RefutedAction:
    """An action set aside: whom its model would choose and what the campaign says they bring."""

    action: str
    customers: int
    """Customers its model would choose (positive expected profit by the choosing estimates)."""
    honest_profit: float
    """Their honest expected profit, summed (< 0)."""
    high: float
    """The upper end of that profit's 95 % interval (measurement error only; < 0)."""


def refuted_actions(
    names: Sequence[str],
    profit: FloatMatrix,
    uplift: FloatMatrix,
    profit_honest: FloatMatrix,
    slope: FloatMatrix,
    errors: tuple[npt.NDArray[np.int64], FloatMatrix],
    *,
    min_uplift: float,
) -> list[RefutedAction]:
    """The actions whose would-be customers the campaign measures at a sure loss.

    ``profit``/``uplift`` are the choosing estimates, ``profit_honest`` the measured valuation,
    ``slope`` the profit per unit of uplift (CLV less the discount), ``errors`` the measured
    group and its variance per ``(customer, action)``. An action without measured groups for
    all its would-be customers is never refuted.
    """
    group, variance = errors
    out = []
    for a, name in enumerate(names):
        chosen = (profit[:, a] > 0) & (uplift[:, a] >= min_uplift)
        rows = np.flatnonzero(chosen & np.isfinite(profit_honest[:, a]))
        if not rows.size:
            continue
        g, var = group[rows, a], variance[rows, a]
        if (g < 0).any() or not np.isfinite(var).all():
            continue
        sums = np.bincount(g, weights=slope[rows, a])
        per_group = np.zeros(sums.size)
        per_group[g] = var
        seen = np.bincount(g) > 0
        measured = float((sums[seen] ** 2 * per_group[seen]).sum())
        total = float(profit_honest[rows, a].sum())
        high = total + Z95 * float(np.sqrt(max(measured, 0.0)))
        if high < 0:
            out.append(RefutedAction(str(name), int(rows.size), total, high))
    return out
