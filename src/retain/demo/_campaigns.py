"""Marketing messages: the monthly newsletter and past retention campaigns with a random holdout.

Newsletter: on the 3rd of every month, every opted-in customer acquired before gets a
``message_sent`` (dead customers too; the company cannot tell), and the living open and click
some. Customers without e-mail consent never get a message, which is the ``no_contact`` driver.

Retention campaigns (:attr:`DemoParameters.campaigns`) target opted-in shop customers with at
least 60 days of tenure and no order in the last 45 days. Each is split at random into treatment
(``message_sent`` with the offer, ``properties.group = "treatment"``) and holdout (a ``holdout``
interaction with ``properties.group = "control"``: assigned, nothing sent; the same shape as the
``hillstrom`` recipe), so the split is visible in the data. Both potential outcomes are known
for every targeted customer:
``y0`` = an order in the 60 days after the start without the campaign (the buy-till-you-die
process alone), ``y1`` = ``y0`` or an offer-induced order (probability ``redemption``, doubled for
discount seekers, two thirds of it for the others, placed in the first two weeks if the customer
is still alive then). The planted true effect is the mean of ``y1 - y0`` over the targeted
customers; only treated customers get the induced orders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from retain.demo._customers import pick
from retain.demo._log import Log
from retain.demo._orders import Purchases
from retain.demo._params import CampaignPlan, DemoParameters
from retain.demo._timeline import FloatArray, IntArray
from retain.demo._world import World

__all__ = ["CampaignTally", "campaign_dates", "campaign_interactions", "month_start"]

_OFFER_DISCOUNT = {"coupon_10": 0.1, "coupon_20": 0.2, "free_shipping": 0.05, "reminder": 0.0}


@dataclass
class CampaignTally:
    """Per-campaign sums over the chunks, and the per-customer potential outcomes."""

    n_treatment: dict[str, int] = field(default_factory=dict)
    n_holdout: dict[str, int] = field(default_factory=dict)
    effect_sum: dict[str, float] = field(default_factory=dict)
    customers: list[pa.Table] = field(default_factory=list)


def month_start(start: dt.datetime, months: int) -> dt.datetime:
    """The first day of the month ``months`` after ``start``'s month."""
    index = start.year * 12 + start.month - 1 + months
    return dt.datetime(index // 12, index % 12 + 1, 1)


def _days(w: World, moment: dt.datetime) -> float:
    return (moment - w.start).total_seconds() / 86_400.0


def _has_order(
    purchases: Purchases, stride: float, cust: IntArray, lo: FloatArray | float, hi: float
) -> np.ndarray:
    """Whether customer ``cust[k]`` has an order in ``[lo, hi)``."""
    key = np.sort(purchases.owner * stride + purchases.time)
    base = cust * stride
    return np.asarray(
        np.searchsorted(key, base + hi, side="left") > np.searchsorted(key, base + lo, "left")
    )


def _opens(w: World, log: Log, owner: IntArray, t: float, share: float, campaign: str) -> None:
    """Opens and clicks (with a landing page view) by customers alive when the mail arrives."""
    rng = w.rng
    opened_at = t + rng.exponential(0.8, owner.size)
    declined = w.decline_onset[owner] <= t
    chance = share * np.where(declined, w.params.decline_factor, 1.0)
    opens = (rng.random(owner.size) < chance) & w.alive_at(owner, opened_at)
    opens &= opened_at < w.horizon
    o, ot = owner[opens], opened_at[opens]
    log.add(o, ot, kind="message_opened", channel="email", campaign_id=campaign)
    clicks = rng.random(o.size) < w.params.click_given_open
    c, ct = o[clicks], ot[clicks] + rng.uniform(0.5, 10.0, int(clicks.sum())) / 1440.0
    log.add(c, ct, kind="message_clicked", channel="email", campaign_id=campaign)
    w.email_landings.append((c, ct + 1.0 / 1440.0, campaign))


def _newsletters(w: World, log: Log, months: int) -> None:
    for m in range(months):
        t = _days(w, month_start(w.start, m) + dt.timedelta(days=2, hours=9))
        if t >= w.horizon:
            break
        owner = np.flatnonzero(w.email_opt_in & (w.acquired < t)).astype(np.int64)
        campaign = f"NL-{month_start(w.start, m):%Y-%m}"
        log.add(
            owner,
            np.full(owner.size, t),
            kind="message_sent",
            channel="email",
            campaign_id=campaign,
            properties='{"type": "newsletter"}',
        )
        _opens(w, log, owner, t, w.params.newsletter_open, campaign)


def _campaign(
    w: World, log: Log, plan: CampaignPlan, t0: float, purchases: Purchases, tally: CampaignTally
) -> Purchases:
    rng, p = w.rng, w.params
    stride = w.horizon + 1.0
    candidates = np.flatnonzero(
        ~w.is_sub & w.email_opt_in & (w.acquired <= t0 - p.campaign_min_tenure_days)
    ).astype(np.int64)
    lapsed = ~_has_order(purchases, stride, candidates, t0 - p.campaign_lapse_days, t0)
    target = candidates[lapsed]
    holdout = rng.random(target.size) < plan.holdout_share
    y0 = _has_order(purchases, stride, target, t0, t0 + p.campaign_window_days)
    redemption = plan.redemption * np.where(w.discount_seeker[target], 2.0, 2.0 / 3.0)
    induced_at = t0 + rng.uniform(0.5, 14.0, target.size)
    induced = (rng.random(target.size) < redemption) & w.alive_at(target, induced_at)
    y1 = y0 | induced
    tally.n_treatment[plan.campaign_id] = tally.n_treatment.get(plan.campaign_id, 0) + int(
        (~holdout).sum()
    )
    tally.n_holdout[plan.campaign_id] = tally.n_holdout.get(plan.campaign_id, 0) + int(
        holdout.sum()
    )
    tally.effect_sum[plan.campaign_id] = tally.effect_sum.get(plan.campaign_id, 0.0) + float(
        (y1 & ~y0).sum()
    )
    tally.customers.append(
        pa.table(
            {
                "campaign_id": pick([plan.campaign_id], np.zeros(target.size, dtype=np.int64)),
                "customer_id": w.customer_ids(target),
                "group": pick(["treatment", "control"], holdout.astype(np.int64)),
                "y0": pa.array(y0),
                "y1": pa.array(y1),
            }
        )
    )
    treated = target[~holdout]
    t_sent = np.full(treated.size, t0)
    props = f'{{"group": "treatment", "offer": "{plan.offer}"}}'
    log.add(
        treated,
        t_sent,
        kind="message_sent",
        channel=plan.channel,
        campaign_id=plan.campaign_id,
        properties=props,
    )
    held = target[holdout]
    props = f'{{"group": "control", "offer": "{plan.offer}"}}'
    log.add(
        held,
        np.full(held.size, t0),
        kind="holdout",
        channel=plan.channel,
        campaign_id=plan.campaign_id,
        properties=props,
    )
    _opens(w, log, treated, t0, p.campaign_open, plan.campaign_id)
    new = ~holdout & induced & ~y0
    discount = np.full(int(new.sum()), _OFFER_DISCOUNT.get(plan.offer, 0.0))
    return Purchases(target[new], induced_at[new], discount)


def campaign_interactions(
    w: World, log: Log, purchases: Purchases, months: int, tally: CampaignTally
) -> Purchases:
    """Add newsletters and campaigns to ``log``; return the purchases with induced orders added."""
    _newsletters(w, log, months)
    plans = {plan.campaign_id: plan for plan in w.params.campaigns}
    for campaign_id, moment in campaign_dates(w.params, w.start, months, w.horizon).items():
        t0 = _days(w, moment)
        purchases = purchases + _campaign(w, log, plans[campaign_id], t0, purchases, tally)
    return purchases


def campaign_dates(
    params: DemoParameters, start: dt.datetime, months: int, horizon: float
) -> dict[str, dt.datetime]:
    """Start of each campaign whose 60-day window fits before the horizon, by campaign id."""
    out: dict[str, dt.datetime] = {}
    for plan in params.campaigns:
        moment = month_start(start, plan.month) + dt.timedelta(days=9, hours=10)
        t0 = (moment - start).total_seconds() / 86_400.0
        if plan.month < months and t0 + params.campaign_window_days <= horizon:
            out[plan.campaign_id] = moment
    return out
