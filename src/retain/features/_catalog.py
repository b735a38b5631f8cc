"""The churn feature catalog: every feature's name, family and meaning.

The family groups features that tell one story to a marketer (``orders_90d``, ``orders_prev_90d``
and ``orders_change_pct`` are all "orders"); reason codes are built per family
(:mod:`retain.models.churn.reasons`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORICAL_FEATURES", "FEATURES", "Feature", "family_of"]


@dataclass(frozen=True)
class Feature:
    """One feature of the churn snapshot."""

    name: str
    family: str
    description: str
    categorical: bool = False


def _f(name: str, family: str, description: str, categorical: bool = False) -> Feature:
    return Feature(name, family, description, categorical)


FEATURES: tuple[Feature, ...] = (
    _f("tenure_days", "tenure", "Days since the customer was acquired (or first seen)."),
    _f("orders_total", "orders", "Completed orders before as_of."),
    _f("orders_30d", "orders", "Completed orders in the 30 days before as_of."),
    _f("orders_90d", "orders", "Completed orders in the 90 days before as_of."),
    _f("orders_prev_90d", "orders", "Completed orders in the 90 days before those (days 91-180)."),
    _f("orders_change_pct", "orders", "Change of orders, last 90 days vs the 90 before, in %."),
    _f("days_since_first_order", "tenure", "Days since the first completed order."),
    _f("days_since_last_order", "recency", "Days since the last completed order."),
    _f("mean_days_between_orders", "recency", "Average gap between orders, in days."),
    _f("order_overdue_ratio", "recency", "Days since the last order / average gap."),
    _f("revenue_total", "spend", "Revenue of completed orders before as_of."),
    _f("revenue_90d", "spend", "Revenue in the 90 days before as_of."),
    _f("revenue_prev_90d", "spend", "Revenue in the 90 days before those."),
    _f("revenue_change_pct", "spend", "Change of revenue, last 90 days vs the 90 before, in %."),
    _f("average_order_value", "spend", "Average completed order amount."),
    _f(
        "units_per_order",
        "basket",
        "Average units per completed order (order_lines quantities, returned units netted).",
    ),
    _f("units_90d", "basket", "Units in completed orders in the 90 days before as_of."),
    _f("largest_order_units", "basket", "Units in the largest completed order before as_of."),
    _f("discount_share", "discount", "Discounts as a share of list value (amount + discount)."),
    _f("discounted_order_share", "discount", "Share of orders that carried a discount."),
    _f("returns_total", "returns", "Orders returned before as_of."),
    _f("events_30d", "engagement", "Engagement events (logins, sessions...) in the last 30 days."),
    _f("events_90d", "engagement", "Engagement events in the last 90 days."),
    _f("events_prev_90d", "engagement", "Engagement events in the 90 days before those."),
    _f(
        "events_change_pct",
        "engagement",
        "Change of engagement, last 90 days vs the 90 before, in %.",
    ),
    _f(
        "events_30d_change_pct",
        "engagement",
        "Engagement in the last 30 days vs the mean 30 days of the 60 before, in %.",
    ),
    _f("days_since_last_event", "engagement", "Days since the last engagement event."),
    _f("web_events_90d", "engagement", "Engagement events on the web channel, last 90 days."),
    _f(
        "web_events_change_pct",
        "engagement",
        "Change of web engagement vs the 90 days before, in %.",
    ),
    _f("app_events_90d", "engagement", "Engagement events in the app, last 90 days."),
    _f(
        "app_events_change_pct",
        "engagement",
        "Change of app engagement vs the 90 days before, in %.",
    ),
    _f(
        "payment_failures_60d",
        "payment",
        "Failed payments in the last 60 days (how long a failure typically weighs on churn).",
    ),
    _f("payment_failures_90d", "payment", "Failed payments (event payment_failed), last 90 days."),
    _f("payment_failures_total", "payment", "Failed payments before as_of."),
    _f("days_since_payment_failure", "payment", "Days since the last failed payment."),
    _f("cancel_page_views_30d", "cancel_page", "Visits to the cancellation page, last 30 days."),
    _f("cancel_page_views_90d", "cancel_page", "Visits to the cancellation page, last 90 days."),
    _f(
        "days_since_cancel_page_view",
        "cancel_page",
        "Days since the last visit to the cancellation page.",
    ),
    _f(
        "days_since_contact",
        "contact",
        "Days since the company last sent the customer a message (tenure when never).",
    ),
    _f("messages_90d", "contact", "Messages sent to the customer in the last 90 days."),
    _f("messages_opened_90d", "contact", "Messages the customer opened in the last 90 days."),
    _f("message_open_rate", "contact", "Opened / sent messages, last 90 days."),
    _f("complaints_total", "complaints", "Complaints before as_of."),
    _f("complaints_90d", "complaints", "Complaints in the last 90 days."),
    _f("tickets_open", "complaints", "Tickets and complaints not resolved by as_of."),
    _f("complaints_unresolved", "complaints", "Complaints not resolved by as_of."),
    _f("oldest_open_ticket_days", "complaints", "Age in days of the oldest unresolved ticket."),
    _f("tickets_resolved_total", "complaints", "Tickets resolved before as_of."),
    _f("mean_days_to_resolve", "complaints", "Average days from opening to resolving a ticket."),
    _f("survey_responses", "survey", "Survey answers (NPS, CSAT) before as_of."),
    _f("survey_last_score", "survey", "The most recent survey score."),
    _f("survey_score_change", "survey", "Mean score in the last 90 days minus the mean before."),
    _f("active_subscriptions", "subscription", "Subscriptions active at as_of."),
    _f("subscription_amount", "subscription", "Price per period of the active subscriptions."),
    _f(
        "subscription_tenure_days",
        "subscription",
        "Days since the oldest active subscription began.",
    ),
    _f(
        "days_to_contract_end",
        "contract",
        "Days until the committed term in force at as_of ends (a later renewal's end is rolled "
        "back by whole billing periods).",
    ),
    _f(
        "days_to_renewal",
        "contract",
        "Days until the billing period in force at as_of ends (the next billing anniversary "
        "of the newest active subscription).",
    ),
    _f("in_trial", "subscription", "1 while a free trial runs."),
    _f("subscriptions_ended", "subscription", "Subscriptions that ended before as_of."),
    _f("email_opt_in", "consent", "1 when the customer accepts marketing e-mail."),
    _f("sms_opt_in", "consent", "1 when the customer accepts marketing SMS."),
    _f("plan", "plan", "Plan of the newest active subscription.", categorical=True),
    _f(
        "billing_period",
        "plan",
        "Billing period of the newest active subscription.",
        categorical=True,
    ),
    _f("country", "profile", "Country code.", categorical=True),
    _f("language", "profile", "Preferred language.", categorical=True),
    _f("acquisition_channel", "profile", "Where the customer came from.", categorical=True),
)
"""Every feature :func:`retain.features.feature_snapshot` returns, in column order."""

CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.categorical)

_FAMILY = {f.name: f.family for f in FEATURES}
_FAMILY["p_alive"] = "p_alive"


def family_of(name: str) -> str:
    """The family of a feature; one outside the catalog is its own family, ``feature:<name>``."""
    return _FAMILY.get(name, f"feature:{name}")
