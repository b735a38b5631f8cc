"""The subscription line: plans, trials, plan changes, cancellations with reasons, comebacks.

A subscriber signs up at acquisition; half take a 14-day free trial, and payment (the
subscription row's ``started_at``) starts when it ends. A subscriber who dies during the trial
never pays and has no subscription row (nor does one still in the trial at the end). While
paying, a subscriber may change plan once
(upgrade 60%, otherwise downgrade): the old row ends and the new one starts at the same instant,
with no cancel reason. At death the last row ends with a ``cancel_reason`` from
:data:`~retain.demo._params.CANCEL_REASONS`, drawn from a mix that depends on the driver active
at that moment (an unresolved complaint mostly gives ``service_issue``, a failed payment
``price``, declining usage ``not_using``), and a ``cancel_page_view`` event precedes it by days
to a few weeks.
Some churned subscribers come back later on a new row (a reactivation).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retain.demo._customers import concat, pick
from retain.demo._log import Log
from retain.demo._params import CANCEL_REASONS, DAYS_PER_YEAR, DRIVERS, PLANS
from retain.demo._timeline import FloatArray, IntArray, active_at
from retain.demo._world import World

__all__ = ["subscriptions_table"]

_TIER_SHARES = (0.45, 0.40, 0.15)
_FAILURES = ("card_declined", "insufficient_funds", "card_expired")
_ANNUAL_SHARE = 0.25
_CANCEL_LEAD_DAYS = 10.0
"""Mean days between the visit to the cancellation page and the cancellation itself."""
_CANCEL_LEAD_MAX_DAYS = 28.0
_REASON_MIX: dict[str | None, tuple[float, ...]] = {
    "unresolved_complaint": (0.10, 0.05, 0.15, 0.60, 0.03, 0.07),
    "payment_failed": (0.55, 0.10, 0.10, 0.10, 0.05, 0.10),
    "usage_decline": (0.10, 0.60, 0.10, 0.05, 0.05, 0.10),
    None: (0.30, 0.20, 0.20, 0.05, 0.10, 0.15),
}


def _reasons(w: World, cust: IntArray, t: FloatArray, *, drivers: bool) -> np.ndarray:
    """Cancel reason index for each cancellation, given the driver active at that time."""
    rng = w.rng
    cause = np.full(cust.size, -1)
    if drivers:
        for d, (name, _) in reversed(list(enumerate(DRIVERS))):
            if name in _REASON_MIX:
                cause = np.where(active_at(w.potential[name], w.horizon, cust, t), d, cause)
    out = np.empty(cust.size, dtype=np.int64)
    for d in np.unique(cause):
        mine = cause == d
        key = DRIVERS[d][0] if d >= 0 else None
        out[mine] = rng.choice(len(CANCEL_REASONS), size=int(mine.sum()), p=_REASON_MIX[key])
    return out


def _term_end(
    started: FloatArray, stop: FloatArray, annual: np.ndarray, horizon: float
) -> FloatArray:
    """End of the committed yearly term in force at ``stop``.

    ``inf`` (empty) for monthly plans and for terms ending after the window: the demo records
    only the past, and ingestion rejects timestamps later than now.
    """
    terms = np.maximum(1.0, np.ceil((stop - started) / DAYS_PER_YEAR))
    end = started + terms * DAYS_PER_YEAR
    return np.where(annual & (end < horizon), end, np.inf)


def subscriptions_table(w: World, events: Log) -> pa.Table:
    """One row per subscription spell; adds payment failures and cancel page views to ``events``."""
    rng, p, horizon = w.rng, w.params, w.horizon
    paid = (w.death >= w.paying_start) & (w.paying_start < horizon)
    subs = np.flatnonzero(w.is_sub & paid).astype(np.int64)
    n = subs.size
    tier = rng.choice(3, size=n, p=_TIER_SHARES)
    annual = rng.random(n) < _ANNUAL_SHARE
    start = w.paying_start[subs]
    stop = w.end_first[subs]
    change = start + rng.exponential(DAYS_PER_YEAR / p.plan_change_rate, n)
    changes = change < stop
    up = ((rng.random(n) < p.upgrade_share) & (tier < 2)) | (tier == 0)
    new_tier = np.where(up, tier + 1, tier - 1)
    dead = np.isfinite(w.death[subs])

    # Spell rows: A (first plan), B (after a plan change), C (after a reactivation).
    a_end = np.where(changes, change, np.where(dead, stop, np.inf))
    b = np.flatnonzero(changes)
    back = np.flatnonzero(np.isfinite(w.reactivated[subs]))
    c_cust = subs[back]
    c_tier = rng.choice(3, size=back.size, p=_TIER_SHARES)
    c_end = w.death2[c_cust]

    owner = np.concatenate([subs, subs[b], c_cust])
    started = np.concatenate([start, change[b], w.reactivated[c_cust]])
    ended = np.concatenate([a_end, np.where(dead[b], stop[b], np.inf), c_end])
    plan = np.concatenate([tier, new_tier[b], c_tier]) + 3 * np.concatenate(
        [annual, annual[b], annual[back]]
    ).astype(np.int64)
    is_annual = np.concatenate([annual, annual[b], annual[back]])
    trial_end = np.concatenate(
        [np.where(start > w.acquired[subs], start, np.inf), np.full(b.size + back.size, np.inf)]
    )
    # Cancelled rows: a finite end that is not a plan change.
    cancelled = np.isfinite(ended) & np.concatenate(
        [~changes, np.ones(b.size + back.size, dtype=bool)]
    )
    first_spell = np.concatenate([np.ones(n + b.size, dtype=bool), np.zeros(back.size, bool)])
    reason = np.full(owner.size, -1)
    k = np.flatnonzero(cancelled & first_spell)
    reason[k] = _reasons(w, owner[k], ended[k], drivers=True)
    k = np.flatnonzero(cancelled & ~first_spell)
    reason[k] = _reasons(w, owner[k], ended[k], drivers=False)

    order = np.lexsort((owner, started))
    owner, started, ended, plan = owner[order], started[order], ended[order], plan[order]
    is_annual, trial_end, reason = is_annual[order], trial_end[order], reason[order]
    ids = w.new_ids("S", owner.size)
    term = _term_end(started, np.minimum(ended, horizon), is_annual, horizon)
    reason_text = pick(CANCEL_REASONS, np.maximum(reason, 0))
    reason_text = pc.if_else(pa.array(reason >= 0), reason_text, pa.scalar(None, pa.string()))
    table = pa.table(
        {
            "subscription_id": ids,
            "customer_id": w.customer_ids(owner),
            "plan": pick([name for name, _, _ in PLANS], plan),
            "started_at": w.timestamps(started),
            "ended_at": w.timestamps(ended),
            "billing_period": pick([period for _, period, _ in PLANS], plan),
            "amount": pa.array(np.array([price for _, _, price in PLANS])[plan]),
            "currency": pick(["USD"], np.zeros(owner.size, dtype=np.int64)),
            "cancel_reason": reason_text,
            "trial_ends_at": w.timestamps(trial_end),
            "contract_ends_at": w.timestamps(term),
        }
    )
    _cancel_page_views(w, events, owner[reason >= 0], ended[reason >= 0], started[reason >= 0])
    _payment_failures(w, events, owner, started, ended, ids)
    return table


def _cancel_page_views(
    w: World, events: Log, owner: IntArray, ended: FloatArray, started: FloatArray
) -> None:
    """A visit to the cancellation page in the weeks before each cancellation.

    Subscribers look at the page (terms, refund, the retention offer) some days before they
    cancel: the lead is exponential with a mean of :data:`_CANCEL_LEAD_DAYS`, at most
    :data:`_CANCEL_LEAD_MAX_DAYS`, so a reference date often falls between the visit and the
    cancellation, which is what makes the page a usable early signal. (A few subscribers visit
    without cancelling; see :mod:`retain.demo._activity`.)
    """
    rng = w.rng
    lead = np.minimum(0.01 + rng.exponential(_CANCEL_LEAD_DAYS, owner.size), _CANCEL_LEAD_MAX_DAYS)
    t = np.maximum(ended - lead, started)
    channel = pick(["web", "app"], (rng.random(owner.size) < 0.4).astype(np.int64))
    page = '{"page": "/account/cancel"}'
    events.add(owner, t, name="cancel_page_view", channel=channel, properties=page)


def _payment_failures(
    w: World, events: Log, owner: IntArray, started: FloatArray, ended: FloatArray, ids: pa.Array
) -> None:
    """``payment_failed`` events of the first life, attached to the row in force at the time."""
    spells = w.observed["payment_failed"]
    if spells.cust.size == 0:
        return
    # Rows are sorted by start; find, per failure, the customer's row that contains its time.
    stride = w.horizon + 1.0
    key = owner * stride + started
    order = np.argsort(key)
    q = spells.cust * stride + spells.start
    row = order[np.searchsorted(key[order], q, side="right") - 1]
    ok = (owner[row] == spells.cust) & (spells.start < ended[row])
    row, cust, t = row[ok], spells.cust[ok], spells.start[ok]
    why = pick(_FAILURES, w.rng.choice(len(_FAILURES), size=row.size, p=(0.6, 0.25, 0.15)))
    props = concat('{"subscription_id": "', ids.take(pa.array(row)), '", "reason": "', why, '"}')
    events.add(cust, t, name="payment_failed", channel="web", properties=props)
