"""The subscription line: plans, trials, plan changes, cancellations with reasons, comebacks.

A subscriber signs up at acquisition; half take a 14-day free trial, and payment (the
subscription row's ``started_at``) starts when it ends. A subscriber who dies during the trial
never pays and has no subscription row (nor does one still in the trial at the end). A quarter
of the subscribers are on a yearly plan. While paying, a subscriber may change plan once
(upgrade 60%, otherwise downgrade): the old row ends and the new one starts at the same instant,
with no cancel reason; a new row starts a new billing period (or yearly term).

Death is the subscriber's *decision* to leave. It takes effect at the end of what was paid for
(:attr:`World.left <retain.demo._world.World.left>`): a monthly subscriber's row ends at the
next monthly billing date, an annual subscriber's at the renewal date ending the term in force.
The row then carries a ``cancel_reason`` from :data:`~retain.demo._params.CANCEL_REASONS`, drawn
from a mix that depends on the driver active at the decision (an unresolved complaint mostly
gives ``service_issue``, a failed payment ``price``, declining usage ``not_using``). A
``cancel_page_view`` event shows the cancellation: a monthly subscriber visits the page days to
a few weeks before the decision; an annual one turns off auto-renewal some weeks before the
renewal date (or at once when deciding later than that). A subscription that ends after the
window is recorded as still active (empty ``ended_at`` and ``cancel_reason``: the demo records
no scheduled cancellations); the page visit shows when it fell inside the window.

Every annual row records ``contract_ends_at``, the end of the yearly term in force when the row
ends (for a row still active at the end of the window, its next renewal date, which may lie
after the window); monthly rows leave it empty.
Some churned subscribers come back later on a new row (a reactivation).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retain.demo._customers import concat, pick
from retain.demo._log import Log
from retain.demo._params import CANCEL_REASONS, DAYS_PER_YEAR, DRIVERS, PLANS
from retain.demo._timeline import BoolArray, FloatArray, IntArray, active_at, period_end
from retain.demo._world import World

__all__ = ["subscriptions_table"]

_TIER_SHARES = (0.45, 0.40, 0.15)
_FAILURES = ("card_declined", "insufficient_funds", "card_expired")
_CANCEL_LEAD_DAYS = 10.0
"""Mean days between a monthly subscriber's visit to the cancellation page and the decision."""
_CANCEL_LEAD_MAX_DAYS = 28.0
_RENEWAL_LEAD_MIN_DAYS = 3.0
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


def contract_end(
    started: FloatArray, ended: FloatArray, annual: BoolArray, horizon: float
) -> FloatArray:
    """``contract_ends_at`` of each row: the end of the yearly term in force when the row ends.

    For a row still active at the horizon (``ended`` is ``inf``) that is its next renewal date,
    which may lie after the window (the column is ``future_allowed`` in the schema: a renewal
    date is known in advance). A row that ends at a renewal date gets that date; a row ended by
    a plan change the end of the term it interrupted. ``inf`` (empty) for monthly plans.
    """
    end = period_end(started, np.minimum(ended, horizon), DAYS_PER_YEAR)
    return np.where(annual, end, np.inf)


def subscriptions_table(w: World, events: Log) -> pa.Table:
    """One row per subscription spell; adds payment failures and cancel page views to ``events``."""
    rng, p, horizon = w.rng, w.params, w.horizon
    paid = (w.death >= w.paying_start) & (w.paying_start < horizon)
    subs = np.flatnonzero(w.is_sub & paid).astype(np.int64)
    n = subs.size
    tier = rng.choice(3, size=n, p=_TIER_SHARES)
    annual = w.annual[subs]
    start = w.paying_start[subs]
    change = w.plan_change[subs]
    changes = np.isfinite(change)
    up = ((rng.random(n) < p.upgrade_share) & (tier < 2)) | (tier == 0)
    new_tier = np.where(up, tier + 1, tier - 1)
    left = np.where(w.left[subs] < horizon, w.left[subs], np.inf)

    # Spell rows: A (first plan), B (after a plan change), C (after a reactivation).
    b = np.flatnonzero(changes)
    back = np.flatnonzero(np.isfinite(w.reactivated[subs]))
    c_cust = subs[back]
    c_tier = rng.choice(3, size=back.size, p=_TIER_SHARES)
    c_end = np.where(w.left2[c_cust] < horizon, w.left2[c_cust], np.inf)

    owner = np.concatenate([subs, subs[b], c_cust])
    started = np.concatenate([start, change[b], w.reactivated[c_cust]])
    ended = np.concatenate([np.where(changes, change, left), left[b], c_end])
    # The decision that ends a row (``inf`` for a plan change and for a row still wanted).
    decided = np.concatenate(
        [np.where(changes, np.inf, w.death[subs]), w.death[subs[b]], w.death2[c_cust]]
    )
    plan = np.concatenate([tier, new_tier[b], c_tier]) + 3 * np.concatenate(
        [annual, annual[b], annual[back]]
    ).astype(np.int64)
    is_annual = np.concatenate([annual, annual[b], annual[back]])
    trial_end = np.concatenate(
        [np.where(start > w.acquired[subs], start, np.inf), np.full(b.size + back.size, np.inf)]
    )
    first_spell = np.concatenate([np.ones(n + b.size, dtype=bool), np.zeros(back.size, bool)])
    # Every decision gets a reason; the table shows it on rows that ended inside the window.
    reason = np.full(owner.size, -1)
    k = np.flatnonzero(np.isfinite(decided) & first_spell)
    reason[k] = _reasons(w, owner[k], decided[k], drivers=True)
    k = np.flatnonzero(np.isfinite(decided) & ~first_spell)
    reason[k] = _reasons(w, owner[k], decided[k], drivers=False)

    order = np.lexsort((owner, started))
    owner, started, ended, plan = owner[order], started[order], ended[order], plan[order]
    is_annual, trial_end, reason = is_annual[order], trial_end[order], reason[order]
    decided = decided[order]
    ids = w.new_ids("S", owner.size)
    term = contract_end(started, ended, is_annual, horizon)
    shown = np.where(np.isfinite(ended), reason, -1)
    reason_text = pick(CANCEL_REASONS, np.maximum(shown, 0))
    reason_text = pc.if_else(pa.array(shown >= 0), reason_text, pa.scalar(None, pa.string()))
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
    k = np.flatnonzero(np.isfinite(decided))
    _cancel_page_views(w, events, owner[k], decided[k], started[k], is_annual[k])
    _payment_failures(w, events, owner, started, ended, ids)
    return table


def _cancel_page_views(
    w: World,
    events: Log,
    owner: IntArray,
    decided: FloatArray,
    started: FloatArray,
    annual: BoolArray,
) -> None:
    """The visit to the cancellation page that goes with each decision to leave.

    A monthly subscriber looks at the page (terms, refund, the retention offer) some days before
    deciding: the lead is exponential with a mean of :data:`_CANCEL_LEAD_DAYS`, at most
    :data:`_CANCEL_LEAD_MAX_DAYS`, and the row ends at the next billing date after the decision.
    An annual subscriber has paid for the year and cancels the renewal some weeks before the
    renewal date, prompted by the renewal notice: ``3 + Exp(renewal_cancel_lead_days)`` days
    before it, at most ``renewal_cancel_lead_max_days``, and not before the decision. Either
    way a reference date often falls between the visit and the end of the subscription, which
    is what makes the page a usable early signal. Visits after the window are not recorded.
    (A few subscribers visit without cancelling; see :mod:`retain.demo._activity`.)
    """
    rng, p = w.rng, w.params
    lead = np.minimum(0.01 + rng.exponential(_CANCEL_LEAD_DAYS, owner.size), _CANCEL_LEAD_MAX_DAYS)
    renewal = period_end(started, decided, DAYS_PER_YEAR)
    renewal_lead = np.minimum(
        _RENEWAL_LEAD_MIN_DAYS + rng.exponential(p.renewal_cancel_lead_days, owner.size),
        p.renewal_cancel_lead_max_days,
    )
    t = np.where(
        annual,
        np.maximum(renewal - renewal_lead, decided),
        np.maximum(decided - lead, started),
    )
    channel = pick(["web", "app"], (rng.random(owner.size) < 0.4).astype(np.int64))
    keep = t < w.horizon
    page = '{"page": "/account/cancel"}'
    events.add(
        owner[keep],
        t[keep],
        name="cancel_page_view",
        channel=channel.filter(pa.array(keep)),
        properties=page,
    )


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
