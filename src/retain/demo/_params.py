"""The true parameters of the demo company: every number the generator draws from, in one place.

Time inside the generator is measured in days from the start of the window; rates given here per
week or per year are converted where they are used. The values are recorded in
``truth_params.json`` (:meth:`DemoParameters.as_dict`) so that a model fitted on the demo data can
be compared with the process that made it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "CANCEL_REASONS",
    "CATALOG",
    "COMPLAINT_REASONS",
    "DRIVERS",
    "PLANS",
    "CampaignPlan",
    "DemoParameters",
    "Product",
]

DAYS_PER_WEEK = 7.0
DAYS_PER_YEAR = 365.25

DRIVERS: tuple[tuple[str, float], ...] = (
    ("unresolved_complaint", 4.0),
    ("payment_failed", 3.0),
    ("usage_decline", 2.5),
    ("no_contact", 1.6),
)
"""The planted churn drivers, strongest first: (name, hazard ratio while the driver is active)."""

CANCEL_REASONS: tuple[str, ...] = (
    "price",
    "not_using",
    "competitor",
    "service_issue",
    "moving",
    "other",
)
"""The fixed vocabulary of ``subscriptions.cancel_reason``."""

COMPLAINT_REASONS: tuple[str, ...] = (
    "late_delivery",
    "damaged_item",
    "billing_error",
    "app_bug",
    "rude_staff",
    "wrong_item",
)


@dataclass(frozen=True)
class Product:
    """One product of the shop's catalog (prices in USD)."""

    product_id: str
    name: str
    category: str
    price: float


def _catalog() -> tuple[Product, ...]:
    rows = {
        "apparel": [
            ("Linen shirt", 48.0),
            ("Wool sweater", 89.0),
            ("Denim jacket", 120.0),
            ("Cotton T-shirt", 19.0),
            ("Rain coat", 149.0),
            ("Chino trousers", 59.0),
        ],
        "shoes": [
            ("Canvas sneakers", 55.0),
            ("Leather boots", 169.0),
            ("Running shoes", 99.0),
            ("Slippers", 24.0),
            ("Sandals", 39.0),
            ("Loafers", 110.0),
        ],
        "beauty": [
            ("Face serum", 42.0),
            ("Hand cream", 12.0),
            ("Sunscreen SPF50", 18.0),
            ("Lip balm", 6.5),
            ("Sheet masks (10)", 15.0),
            ("Hair oil", 28.0),
        ],
        "home": [
            ("Ceramic mug", 16.0),
            ("Linen towel set", 45.0),
            ("Scented candle", 22.0),
            ("Bamboo cutting board", 34.0),
            ("Table lamp", 79.0),
            ("Throw blanket", 65.0),
        ],
        "books": [
            ("Cookbook", 29.0),
            ("Travel guide", 21.0),
            ("Notebook", 9.0),
            ("Illustrated novel", 17.0),
            ("Photo book", 45.0),
            ("Planner 2025", 14.0),
        ],
        "snacks": [
            ("Green tea (100 g)", 11.0),
            ("Rice crackers", 5.5),
            ("Dark chocolate", 7.0),
            ("Dried mango", 8.5),
            ("Coffee beans (250 g)", 16.0),
            ("Honey jar", 13.0),
        ],
    }
    out: list[Product] = []
    for category, items in rows.items():
        for name, price in items:
            out.append(Product(f"P{len(out) + 1:03d}", name, category, price))
    return tuple(out)


CATALOG: tuple[Product, ...] = _catalog()
"""The shop's 36 products in 6 categories."""

PLANS: tuple[tuple[str, str, float], ...] = (
    ("basic_monthly", "month", 9.99),
    ("plus_monthly", "month", 19.99),
    ("premium_monthly", "month", 39.99),
    ("basic_annual", "year", 99.0),
    ("plus_annual", "year", 199.0),
    ("premium_annual", "year", 399.0),
)
"""Subscription plans: (plan, billing_period, price per period in USD); basic < plus < premium."""


@dataclass(frozen=True)
class CampaignPlan:
    """One past retention campaign: when, what, and the planted per-customer redemption chance.

    ``redemption`` is the probability that a treated customer who would not have bought in the
    60 days after the start buys because of the offer (twice that for discount seekers, two
    thirds of it for the others, so the average over a typical audience is close to it).
    """

    campaign_id: str
    month: int
    """Months after the window's start at which the campaign is sent."""
    name: str
    channel: str
    offer: str
    redemption: float
    holdout_share: float


@dataclass(frozen=True)
class DemoParameters:
    """Every parameter of the generative process (see ``docs/demo.md`` for the story).

    Purchase and dropout parameters follow the Pareto/NBD notation of Schmittlein, Morrison &
    Colombo (1987) and Fader, Hardie & Lee (2005): ``lambda ~ Gamma(r, alpha)`` purchases per
    week, ``mu ~ Gamma(s, beta)`` dropout rate per week (``alpha`` and ``beta`` are rates, in
    weeks).
    """

    subscription_share: float = 0.3
    country_shares: dict[str, float] = field(
        default_factory=lambda: {"JP": 0.45, "KR": 0.25, "US": 0.30}
    )
    growth: float = 1.5
    """Acquisitions per day at the end of the window relative to the start, minus one."""
    seasonality: float = 0.25
    """Amplitude of the yearly acquisition cycle (peak in early December)."""
    email_opt_in: float = 0.7
    sms_opt_in: float = 0.35
    shop_r: float = 0.9
    shop_alpha: float = 12.0
    shop_s: float = 3.0
    shop_beta: float = 175.0
    subscription_s: float = 4.0
    subscription_beta: float = 300.0
    discount_seeker_share: float = 0.25
    discount_seeker_order_share: float = 0.6
    other_order_discount_share: float = 0.1
    cancelled_order_share: float = 0.03
    returned_order_share: float = 0.04
    engagement_shop: float = 0.6
    """Mean sessions per week of a shop customer (Gamma with shape 2 across customers)."""
    engagement_subscription: float = 1.2
    usage_follows_dropout: float = 1.0
    """How a subscriber's usage follows their latent dropout rate ``mu``: sessions are
    multiplied by ``(mu / mean mu) ** -usage_follows_dropout``, rescaled so the mean is kept.

    A subscriber who is likelier to leave uses the service less all along (not only after a
    planted decline), as in real subscription data, so usage *level* carries the base rate that
    no single event shows: at 1 the subscription line's pooled ROC AUC rises from 0.868 to
    0.877 (20,000 customers). It must stay below :attr:`subscription_s` (the mean would be
    infinite); 0 makes usage independent of ``mu``. With the tie, a planted decline is partly
    explained away: a low count after a drop from a heavy user's level (a low ``mu``) says
    less than the same low count all along, so the engagement family's total on the visible
    decliners is no longer the decline's alone (the ``usage down`` reason still singles them
    out; ``tests/models/churn/test_real_data.py``).
    """
    page_views_per_web_session: float = 0.6
    decline_factor: float = 0.3
    """Share of the session rate left after a customer's usage declines."""
    complaint_rate: float = 0.35
    """Complaints per customer-year while alive."""
    complaint_resolved_share: float = 0.6
    resolution_days: float = 4.0
    question_rate: float = 0.3
    """Non-complaint support tickets per customer-year (always resolved; no effect on churn)."""
    payment_failure_rate: float = 0.6
    """Failed payments per subscriber-year."""
    payment_failure_days: float = 60.0
    decline_rate: float = 0.35
    """Onsets of usage decline per customer-year (only the first counts)."""
    no_contact_days: float = 120.0
    trial_share: float = 0.5
    trial_days: float = 14.0
    annual_share: float = 0.25
    """Share of subscribers on a yearly plan (billed and renewed once a year)."""
    early_life: tuple[tuple[float, float], ...] = ((60.0, 2.0), (120.0, 1.5))
    """Onboarding risk of a new paying subscriber: ``(until_day, hazard_ratio)`` steps.

    The baseline hazard is multiplied by 2 in the first 60 days after payment starts and by 1.5
    from day 60 to day 120, then by 1: most subscription businesses lose a larger share of new
    payers in their first billing periods than later. Not a planted driver (it is not in
    :data:`DRIVERS`); it multiplies the hazard together with them.
    """
    renewal_cancel_lead_days: float = 18.0
    """Mean days before the renewal date at which a leaving annual subscriber cancels.

    An annual subscriber who decides to leave keeps the paid term and turns off auto-renewal
    (a ``cancel_page_view``) ``3 + Exp(mean)`` days before the renewal date, at most
    :attr:`renewal_cancel_lead_max_days`, or at once when the decision comes later than that.
    """
    renewal_cancel_lead_max_days: float = 60.0
    plan_change_rate: float = 0.35
    """Plan changes per subscriber-year (at most one per subscription spell)."""
    upgrade_share: float = 0.6
    reactivation_share: float = 0.15
    reactivation_days: float = 60.0
    nps_rate: float = 0.5
    nps_response: float = 0.35
    csat_response: float = 0.4
    newsletter_open: float = 0.3
    campaign_open: float = 0.35
    click_given_open: float = 0.25
    campaigns: tuple[CampaignPlan, ...] = (
        CampaignPlan("CMP-01", 4, "Spring win-back", "email", "coupon_10", 0.15, 0.15),
        CampaignPlan("CMP-02", 8, "Summer coupon", "email", "coupon_20", 0.25, 0.15),
        CampaignPlan("CMP-03", 12, "New year shipping", "email", "free_shipping", 0.08, 0.2),
        CampaignPlan("CMP-04", 16, "Spring coupon", "email", "coupon_20", 0.2, 0.15),
        CampaignPlan("CMP-05", 20, "We miss you", "email", "reminder", 0.0, 0.2),
    )
    campaign_lapse_days: float = 45.0
    """A campaign targets opted-in shop customers with no order in this many days before it."""
    campaign_min_tenure_days: float = 60.0
    campaign_window_days: float = 60.0
    playbook_run_months: tuple[int, ...] = (6, 14, 21)
    """Months after the window's start at which retain's shipped playbooks ran (the 20th, 01:00
    UTC); a run is kept when :attr:`playbook_window_days` fit after it."""
    playbook_window_days: float = 60.0
    playbook_effects: tuple[tuple[str, float], ...] = (
        ("onboarding", 0.12),
        ("winback-60", 0.3),
        ("replenish", 0.2),
        ("renewal-30", 0.0),
        ("payment-failed", 0.0),
        ("risk-high", 0.05),
        ("birthday", 0.1),
    )
    """The planted effect of each shipped playbook: the chance that a treated shop customer, alive
    at the moment, places an order because of the message (within its attribution window). The
    subscription playbooks' effect is nil (a planted null: the demo plants no saves)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the drivers and plans, for ``truth_params.json``."""
        data = asdict(self)
        data["campaigns"] = [asdict(c) for c in self.campaigns]
        data["playbook_effects"] = [
            {"playbook": name, "redemption": value} for name, value in self.playbook_effects
        ]
        data["drivers"] = [{"name": n, "hazard_ratio": hr} for n, hr in DRIVERS]
        data["plans"] = [{"plan": p, "billing_period": b, "amount": a} for p, b, a in PLANS]
        data["cancel_reasons"] = list(CANCEL_REASONS)
        data["early_life"] = [
            {"until_day": until, "hazard_ratio": ratio} for until, ratio in self.early_life
        ]
        data["cancellation_takes_effect"] = {
            "month": "at the next monthly billing date after the decision",
            "year": "at the renewal date ending the term in force at the decision",
        }
        data["time_unit"] = "week"
        data["currency"] = "USD"
        data["shop_mean_purchase_rate_per_week"] = self.shop_r / self.shop_alpha
        data["shop_mean_dropout_rate_per_week"] = self.shop_s / self.shop_beta
        data["subscription_mean_dropout_rate_per_week"] = (
            self.subscription_s / self.subscription_beta
        )
        return data
