"""Vectorised point processes and hazards over many customers at once.

Times are float days from the window's start. A *spell* is a half-open interval ``[start, end)``
during which a churn driver multiplies a customer's hazard. Death times are drawn exactly from
the piecewise-constant hazard ``mu_i * prod_d m_d ** [driver d active]`` by inverting the
cumulative hazard against a unit exponential draw; no time grid is involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Spells", "active_at", "death_times", "period_end", "poisson_times"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def poisson_times(
    rng: np.random.Generator,
    start: FloatArray,
    end: FloatArray,
    rate: FloatArray | float,
    *,
    sort: bool = True,
) -> tuple[IntArray, FloatArray]:
    """Points of independent Poisson processes, one per row, on ``[start, end)``.

    Returns ``(owner, times)``; ``owner`` indexes the input rows. With ``sort`` the points are
    ordered by owner, then time; without, they are grouped by owner in random time order.
    Rows with ``end <= start`` get no points.
    """
    length = np.clip(end - start, 0.0, None)
    counts = rng.poisson(np.asarray(rate, dtype=np.float64) * length)
    owner = np.repeat(np.arange(start.size, dtype=np.int64), counts)
    times = start[owner] + rng.random(owner.size) * length[owner]
    if not sort:
        return owner, times
    order = np.lexsort((times, owner))
    return owner[order], times[order]


@dataclass
class Spells:
    """Intervals ``[start, end)`` during which one driver acts on customer ``cust``."""

    cust: IntArray
    start: FloatArray
    end: FloatArray

    def subset(self, keep: BoolArray) -> Spells:
        """The spells where ``keep`` is true."""
        return Spells(self.cust[keep], self.start[keep], self.end[keep])

    def truncate(self, death: FloatArray) -> Spells:
        """Spells as observed: those starting before the customer's death, cut at it."""
        limit = death[self.cust]
        keep = self.start < limit
        out = self.subset(keep)
        out.end = np.minimum(out.end, limit[keep])
        return out


def _stride(horizon: float) -> float:
    return float(horizon) + 1.0


def active_at(spells: Spells, horizon: float, cust: IntArray, t: FloatArray) -> BoolArray:
    """Whether any spell of ``cust[k]`` contains ``t[k]``, for every query ``k``."""
    if spells.cust.size == 0 or cust.size == 0:
        return np.zeros(cust.size, dtype=bool)
    stride = _stride(horizon)
    starts = np.sort(spells.cust * stride + spells.start)
    ends = np.sort(spells.cust * stride + spells.end)
    q = cust * stride + t
    n_started = np.searchsorted(starts, q, side="right")
    n_ended = np.searchsorted(ends, q, side="right")
    return np.asarray(n_started - n_ended > 0)


def death_times(
    rng: np.random.Generator,
    *,
    acquired: FloatArray,
    horizon: float,
    mu: FloatArray,
    drivers: list[tuple[Spells, float]],
) -> FloatArray:
    """Death time of each customer (``inf`` when alive at ``horizon``).

    The hazard of customer ``i`` at time ``t`` is ``mu[i]`` times the product of the
    multipliers of the drivers with a spell containing ``t``. All spells must lie inside
    ``[acquired[i], horizon]``.
    """
    n = acquired.size
    n_drivers = len(drivers)
    # Breakpoints: the customer's start and the horizon, then every spell start (+1) and end (-1).
    custs = [np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)]
    times = [acquired, np.full(n, float(horizon))]
    deltas = [np.zeros((2 * n, n_drivers), dtype=np.int64)]
    for d, (spells, _) in enumerate(drivers):
        m = spells.cust.size
        custs += [spells.cust, spells.cust]
        times += [spells.start, spells.end]
        block = np.zeros((2 * m, n_drivers), dtype=np.int64)
        block[:m, d] = 1
        block[m:, d] = -1
        deltas.append(block)
    cust = np.concatenate(custs)
    t = np.concatenate(times)
    delta = np.concatenate(deltas)
    order = np.lexsort((t, cust))
    cust, t, delta = cust[order], t[order], delta[order]
    active = np.cumsum(delta, axis=0) > 0
    multiplier = np.ones(cust.size)
    for d, (_, ratio) in enumerate(drivers):
        multiplier = np.where(active[:, d], multiplier * ratio, multiplier)
    same_next = np.append(cust[1:] == cust[:-1], False)
    length = np.where(same_next, np.append(t[1:], 0.0) - t, 0.0)
    rate = mu[cust] * multiplier
    cum = np.cumsum(rate * length)
    first = np.searchsorted(cust, np.arange(n), side="left")
    last = np.searchsorted(cust, np.arange(n), side="right") - 1
    before = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    target = before + rng.exponential(1.0, n)
    dead = target <= cum[last]
    idx = np.searchsorted(cum, target, side="left")
    idx = np.minimum(idx, cust.size - 1)
    seg_end = np.append(t[1:], float(horizon))[idx]
    death = seg_end - (cum[idx] - target) / np.maximum(rate[idx], 1e-300)
    death = np.clip(death, acquired, float(horizon))
    return np.where(dead, death, np.inf)


def period_end(anchor: FloatArray, t: FloatArray, period: FloatArray | float) -> FloatArray:
    """End of the billing period (or yearly term) in force at ``t``, counted from ``anchor``.

    The first period ends one ``period`` after ``anchor``; a ``t`` lying exactly on a period end
    (within a microsecond) belongs to the period it ends, so the function is idempotent:
    ``period_end(a, period_end(a, t, p), p) == period_end(a, t, p)``. ``inf`` stays ``inf``.
    """
    with np.errstate(invalid="ignore"):
        count = np.maximum(1.0, np.ceil((t - anchor) / period - 1e-11))
    out = anchor + count * period
    return np.where(np.isfinite(t), out, np.inf)
