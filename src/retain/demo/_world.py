"""The latent state of a chunk of demo customers: who they are, what happens, when they die.

Everything observable (orders, events, tickets...) is generated afterwards FROM this state by the
table modules (``_customers``, ``_orders``, ``_subscriptions``, ``_activity``, ``_voice``,
``_campaigns``). The order of the story, per customer:

1. acquisition time, line (shop or subscription), country, consent, latent rates;
2. the *potential* driver processes (complaints with their resolution, failed payments, the
   onset of usage decline, the no-contact state), independent of death;
3. death, drawn exactly from the hazard those drivers modulate (for new paying subscribers
   also the onboarding risk, :attr:`DemoParameters.early_life`); everything after death is
   dropped (a hazard at ``t`` only depends on what happened before ``t``, so thinning the
   potential processes at death is a valid generative process);
4. for subscribers, the plan (monthly or annual, a possible plan change) and when the
   subscription really ends: death is the *decision* to leave, which takes effect at the end of
   the billing period in force (the next monthly billing date, or the renewal date of an annual
   term); then a possible reactivation after that end.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from retain.demo._params import DAYS_PER_WEEK, DAYS_PER_YEAR, DRIVERS, DemoParameters
from retain.demo._timeline import (
    BoolArray,
    FloatArray,
    IntArray,
    Spells,
    death_times,
    period_end,
    poisson_times,
)

__all__ = ["COUNTRIES", "World", "build_world"]

COUNTRIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("JP", "ja", ("Asia/Tokyo",)),
    ("KR", "ko", ("Asia/Seoul",)),
    ("US", "en", ("America/New_York", "America/Chicago", "America/Los_Angeles")),
)
"""Country, language and the time zones its customers live in."""


@dataclass
class World:
    """Latent state of a chunk of customers (times in days from ``start``)."""

    rng: np.random.Generator
    params: DemoParameters
    start: dt.datetime
    horizon: float
    offset: int
    """Global index of the chunk's first customer (customer ids are ``C`` + index + 1)."""
    acquired: FloatArray
    is_sub: BoolArray
    country: IntArray
    email_opt_in: BoolArray
    sms_opt_in: BoolArray
    lam: FloatArray
    """Shop purchase rate per day (0 for subscribers)."""
    mu: FloatArray
    """Baseline dropout hazard per day."""
    engagement: FloatArray
    """Sessions per day while alive and engaged."""
    discount_seeker: BoolArray
    paying_start: FloatArray
    """Subscribers: end of the trial (start of payment); shop customers: acquisition."""
    complaint_owner: IntArray
    complaint_time: FloatArray
    complaint_resolved_at: FloatArray
    """Resolution time, ``inf`` when never resolved."""
    payment_owner: IntArray
    payment_time: FloatArray
    decline_onset: FloatArray
    """First onset of usage decline, ``inf`` when none."""
    potential: dict[str, Spells]
    death: FloatArray
    """First churn time, ``inf`` when alive at the horizon (for subscribers: the decision)."""
    annual: BoolArray
    """Subscribers on a yearly plan (kept through a plan change and a comeback)."""
    plan_change: FloatArray
    """Subscribers: time of the (single) plan change before death, ``inf`` when none."""
    left: FloatArray
    """Paying subscribers who decided to leave: when the subscription ends, the end of the
    billing period (monthly) or term (annual) in force at ``death``; it may lie after the
    horizon. ``inf`` for everyone else."""
    reactivated: FloatArray
    """Subscribers who come back: start of the second spell, ``inf`` otherwise."""
    death2: FloatArray
    """Decision ending the second spell, ``inf`` when still active at the horizon or never
    started."""
    left2: FloatArray
    """When the second spell's subscription ends (as :attr:`left`), ``inf`` when none."""
    observed: dict[str, Spells] = field(default_factory=dict)
    email_landings: list[tuple[IntArray, FloatArray, str]] = field(default_factory=list)
    """Clicked e-mails (who, when, campaign): each lands on the site as a ``page_view``."""
    _customer_ids: pa.Array | None = None
    counters: dict[str, int] = field(default_factory=dict)
    """Next number per id prefix, shared by the chunks of one business so ids stay unique."""

    @property
    def n(self) -> int:
        """Customers in the chunk."""
        return int(self.acquired.size)

    @property
    def end_first(self) -> FloatArray:
        """End of the first life: death, or the horizon."""
        return np.minimum(self.death, self.horizon)

    @property
    def alive_at_end(self) -> BoolArray:
        """Alive at the horizon, counting a reactivated subscriber's second spell."""
        return np.asarray(
            np.isinf(self.death) | ((self.reactivated < self.horizon) & np.isinf(self.death2))
        )

    @property
    def usage_end(self) -> FloatArray:
        """End of the first life's use of the service (at most the horizon).

        Death for a shop customer; for a subscriber who decided to leave, the end of the
        subscription (:attr:`left`): a subscriber keeps using what was paid for until then.
        """
        return np.where(np.isfinite(self.left), np.minimum(self.left, self.horizon), self.end_first)

    def alive_at(self, cust: IntArray, t: FloatArray) -> BoolArray:
        """Whether customer ``cust[k]`` is a customer (in a spell) at time ``t[k]``.

        A subscriber's spell lasts until the subscription ends, past the decision to leave.
        """
        first_end = np.where(np.isfinite(self.left), self.left, self.death)[cust]
        second_end = np.where(np.isfinite(self.left2), self.left2, self.death2)[cust]
        first = (t >= self.acquired[cust]) & (t < first_end)
        second = (t >= self.reactivated[cust]) & (t < second_end)
        return np.asarray(first | second)

    def new_ids(self, prefix: str, count: int) -> pa.Array:
        """``count`` fresh identifiers ``<prefix><n>``, numbered on from the previous chunk."""
        first = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = first + count - 1
        return ids(prefix, np.arange(first, first + count, dtype=np.int64))

    def customer_ids(self, cust: IntArray) -> pa.Array:
        """``C<n>`` identifiers for the given chunk positions."""
        if self._customer_ids is None:
            self._customer_ids = ids("C", np.arange(self.n, dtype=np.int64) + self.offset + 1)
        return self._customer_ids.take(pa.array(np.asarray(cust, dtype=np.int64)))

    def timestamps(self, days: FloatArray) -> pa.Array:
        """Naive UTC timestamps (microseconds, whole seconds) for times in days; ``inf`` -> null."""
        days = np.asarray(days, dtype=np.float64)
        finite = np.isfinite(days)
        base = int(self.start.replace(tzinfo=dt.UTC).timestamp()) * 1_000_000
        seconds = np.floor(np.where(finite, days, 0.0) * 86_400.0).astype(np.int64)
        values = base + seconds * 1_000_000
        mask = None if finite.all() else ~finite
        return pa.array(values, type=pa.timestamp("us"), mask=mask)


def ids(prefix: str, numbers: IntArray) -> pa.Array:
    """``prefix`` followed by each number, as an Arrow string array (no Python objects)."""
    import pyarrow.compute as pc

    text = pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def _acquisition_days(
    rng: np.random.Generator, n: int, start: dt.datetime, horizon: float, p: DemoParameters
) -> FloatArray:
    days = int(np.ceil(horizon))
    grid = np.arange(days, dtype=np.float64)
    doy = np.array(
        [(start + dt.timedelta(days=int(d))).timetuple().tm_yday for d in grid], dtype=np.float64
    )
    weight = (1.0 + p.growth * grid / horizon) * (
        1.0 + p.seasonality * np.cos(2.0 * np.pi * (doy - 340.0) / DAYS_PER_YEAR)
    )
    day = rng.choice(days, size=n, p=weight / weight.sum())
    return np.minimum(day + rng.random(n), horizon - 1e-6)


def _usage_factor(mu: FloatArray, p: DemoParameters) -> FloatArray:
    """Subscribers' session multiplier ``(mu / E mu) ** -k``, divided by its mean.

    For ``mu ~ Gamma(s, rate b)`` per week, ``E[(mu / (s / b)) ** -k] = s**k Gamma(s - k) /
    Gamma(s)``, so the line's mean sessions stay :attr:`DemoParameters.engagement_subscription`
    (and the factor is the same whatever the chunk's mix of customers).
    """
    k, s = p.usage_follows_dropout, p.subscription_s
    if not 0.0 <= k < s:
        raise ValueError(f"usage_follows_dropout must be in [0, subscription_s), got {k}")
    mean = math.exp(k * math.log(s) + math.lgamma(s - k) - math.lgamma(s))
    relative = mu * DAYS_PER_WEEK * p.subscription_beta / s
    return np.asarray(np.power(np.maximum(relative, 1e-12), -k) / mean)


def _early_life_spells(
    is_sub: BoolArray, paying_start: FloatArray, horizon: float, p: DemoParameters
) -> list[tuple[Spells, float]]:
    """The onboarding risk as hazard spells: one per step of ``p.early_life`` per payer."""
    payers = np.flatnonzero(is_sub & (paying_start < horizon)).astype(np.int64)
    out, since = [], 0.0
    for until, ratio in p.early_life:
        begin = paying_start[payers] + since
        keep = begin < horizon
        stop = np.minimum(paying_start[payers] + until, horizon)
        out.append((Spells(payers[keep], begin[keep], stop[keep]), ratio))
        since = until
    return out


def build_world(
    rng: np.random.Generator,
    *,
    n: int,
    offset: int,
    start: dt.datetime,
    horizon: float,
    params: DemoParameters,
) -> World:
    """Draw the latent state of ``n`` customers (see the module docstring for the order)."""
    p = params
    acquired = np.sort(_acquisition_days(rng, n, start, horizon, p))
    is_sub = rng.random(n) < p.subscription_share
    shares = np.array(list(p.country_shares.values()))
    country = rng.choice(len(COUNTRIES), size=n, p=shares / shares.sum()).astype(np.int64)
    email_opt_in = rng.random(n) < p.email_opt_in
    sms_opt_in = rng.random(n) < p.sms_opt_in
    lam = np.where(is_sub, 0.0, rng.gamma(p.shop_r, 1.0 / p.shop_alpha, n) / DAYS_PER_WEEK)
    mu = (
        np.where(
            is_sub,
            rng.gamma(p.subscription_s, 1.0 / p.subscription_beta, n),
            rng.gamma(p.shop_s, 1.0 / p.shop_beta, n),
        )
        / DAYS_PER_WEEK
    )
    mean_sessions = np.where(is_sub, p.engagement_subscription, p.engagement_shop)
    engagement = rng.gamma(2.0, mean_sessions / 2.0, n) / DAYS_PER_WEEK
    engagement = np.where(is_sub, engagement * _usage_factor(mu, p), engagement)
    discount_seeker = ~is_sub & (rng.random(n) < p.discount_seeker_share)
    trial = is_sub & (rng.random(n) < p.trial_share)
    paying_start = acquired + np.where(trial, p.trial_days, 0.0)
    end = np.full(n, horizon)
    onboarding = _early_life_spells(is_sub, paying_start, horizon, p)

    # Potential driver processes, independent of death.
    c_owner, c_time = poisson_times(
        rng, acquired, end, p.complaint_rate / DAYS_PER_YEAR, sort=False
    )
    resolved = rng.random(c_owner.size) < p.complaint_resolved_share
    delay = 0.05 + rng.exponential(p.resolution_days, c_owner.size)
    c_resolved_at = np.where(resolved, c_time + delay, np.inf)
    complaints = Spells(c_owner, c_time, np.minimum(c_resolved_at, horizon))

    pay_owner, pay_time = poisson_times(
        rng,
        paying_start,
        np.where(is_sub, horizon, paying_start),
        p.payment_failure_rate / DAYS_PER_YEAR,
    )
    payments = Spells(pay_owner, pay_time, np.minimum(pay_time + p.payment_failure_days, horizon))

    d_owner, d_time = poisson_times(rng, acquired, end, p.decline_rate / DAYS_PER_YEAR)
    first_onset = np.full(n, np.inf)
    if d_owner.size:
        is_first = np.append(True, d_owner[1:] != d_owner[:-1])
        first_onset[d_owner[is_first]] = d_time[is_first]
    has_onset = np.isfinite(first_onset)
    onset_cust = np.flatnonzero(has_onset).astype(np.int64)
    decline = Spells(onset_cust, first_onset[has_onset], np.full(onset_cust.size, horizon))

    nc_start = acquired + p.no_contact_days
    nc = ~email_opt_in & (nc_start < horizon)
    nc_cust = np.flatnonzero(nc).astype(np.int64)
    no_contact = Spells(nc_cust, nc_start[nc], np.full(nc_cust.size, horizon))

    potential = dict(
        zip(
            [name for name, _ in DRIVERS],
            [complaints, payments, decline, no_contact],
            strict=True,
        )
    )
    death = death_times(
        rng,
        acquired=acquired,
        horizon=horizon,
        mu=mu,
        drivers=[(potential[name], ratio) for name, ratio in DRIVERS] + onboarding,
    )

    # The plan and when a departure takes effect, from a stream of their own (spawning does
    # not advance ``rng``, so the draws below it are the same as without these).
    plan_rng = rng.spawn(1)[0]
    annual = is_sub & (plan_rng.random(n) < p.annual_share)
    period = np.where(annual, DAYS_PER_YEAR, DAYS_PER_YEAR / 12.0)
    paid = is_sub & (paying_start < horizon) & (death >= paying_start)
    change = paying_start + plan_rng.exponential(DAYS_PER_YEAR / p.plan_change_rate, n)
    plan_change = np.where(paid & (change < np.minimum(death, horizon)), change, np.inf)
    anchor = np.where(np.isfinite(plan_change), plan_change, paying_start)
    left = np.where(paid & np.isfinite(death), period_end(anchor, death, period), np.inf)

    # Subscribers whose subscription ended may come back once (no drivers act on the comeback).
    comes_back = (left < horizon) & (rng.random(n) < p.reactivation_share)
    reactivated = np.where(comes_back, left + 7.0 + rng.exponential(p.reactivation_days, n), np.inf)
    reactivated = np.where(reactivated < horizon, reactivated, np.inf)
    second_life = rng.exponential(1.0, n) / mu
    death2 = np.where(np.isfinite(reactivated), reactivated + second_life, np.inf)
    death2 = np.where(death2 < horizon, death2, np.inf)
    left2 = np.where(np.isfinite(death2), period_end(reactivated, death2, period), np.inf)

    world = World(
        rng=rng,
        params=p,
        start=start,
        horizon=horizon,
        offset=offset,
        acquired=acquired,
        is_sub=is_sub,
        country=country,
        email_opt_in=email_opt_in,
        sms_opt_in=sms_opt_in,
        lam=lam,
        mu=mu,
        engagement=engagement,
        discount_seeker=discount_seeker,
        paying_start=paying_start,
        complaint_owner=c_owner,
        complaint_time=c_time,
        complaint_resolved_at=c_resolved_at,
        payment_owner=pay_owner,
        payment_time=pay_time,
        decline_onset=first_onset,
        potential=potential,
        death=death,
        annual=annual,
        plan_change=plan_change,
        left=left,
        reactivated=reactivated,
        death2=death2,
        left2=left2,
    )
    world.observed = {name: s.truncate(world.end_first) for name, s in potential.items()}
    return world
