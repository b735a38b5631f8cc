"""Monthly recurring revenue (MRR) and its movements, logo churn, gross and net revenue retention.

Conventions, following ChartMogul's and Baremetrics' published definitions:

- A subscription's MRR is its price normalised to a month: ``month`` x1, ``year`` /12,
  ``week`` x52/12, ``day`` x365/12.
- MRR is a snapshot at the end of each period: a subscription counts when it has started
  paying before the period ends and has not ended by then. Trials do not count: paid time
  starts at ``started_at``, or at ``trial_ends_at`` when that is later; a subscription that
  ends before its paid start (an unconverted trial) never counts.
- Movements compare each customer's MRR with the previous period's snapshot: ``new`` (first
  ever MRR), ``reactivation`` (MRR again after a period at zero), ``expansion`` and
  ``contraction`` (more or less MRR than before), ``churned`` (MRR fell to zero). Contraction
  and churn are negative numbers, so ``mrr = mrr_start + net_new_mrr``.
- ``gross_revenue_retention`` = (MRR start + contraction + churned) / MRR start x 100;
  ``net_revenue_retention`` adds expansion; reactivations are left out of both (those
  customers were not in the starting MRR). ``logo_churn_rate`` = churned customers /
  customers at start x 100. A customer is churned in the period their last subscription
  ends; ``period_metrics`` with subscription activity counts the same customers
  (:func:`~retain.metrics._activity.subscription_snapshots` is their one definition).
- Prices are summed in the reporting currency: a subscription in another currency is converted
  at the rate valid on its ``started_at`` (so MRR moves with the business, not with exchange
  rates), or refused when no loaded rate covers it (:mod:`retain.facts.money`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from retain.facts import flag, in_reporting_currency, require_columns, require_table
from retain.metrics._activity import subscription_snapshots
from retain.metrics._periods import PeriodLike, period_spec, spine

__all__ = ["MRR_COLUMNS", "monthly_amount", "mrr_movements"]

MRR_COLUMNS: tuple[str, ...] = (
    "period_start",
    "mrr_start",
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "reactivation_mrr",
    "net_new_mrr",
    "mrr",
    "customers_start",
    "new_customers",
    "churned_customers",
    "reactivated_customers",
    "customers",
    "logo_churn_rate",
    "gross_revenue_retention",
    "net_revenue_retention",
)
"""The columns of :func:`mrr_movements`, in order."""


def monthly_amount(subscriptions: ir.Table) -> ir.FloatingValue:
    """Each subscription's price per month, from ``amount`` and ``billing_period``."""
    amount = subscriptions.amount.cast("float64")
    if "billing_period" not in subscriptions.columns:
        return amount
    bp = subscriptions.billing_period
    return ibis.cases(
        (bp == "year", amount / 12.0),
        (bp == "week", amount * 52.0 / 12.0),
        (bp == "day", amount * 365.0 / 12.0),
        else_=amount,
    )


def mrr_movements(
    subscriptions: ir.Table,
    *,
    period: PeriodLike = "month",
    tz: str = "UTC",
    currency: str | None = None,
    rates: ir.Table | None = None,
) -> ir.Table:
    """MRR at the end of each period and the movements that explain its change.

    Parameters
    ----------
    subscriptions
        The ``subscriptions`` table (``customer_id``, ``started_at``, ``ended_at``,
        ``amount``, optional ``billing_period`` and ``trial_ends_at``).
    period
        Snapshot period; ``month`` gives the usual MRR report.
    tz
        IANA time zone in which periods are cut.
    currency, rates
        The reporting currency (default the configured one) and an ``exchange_rates`` table
        (default the warehouse's), for subscriptions priced in other currencies.

    Returns
    -------
    ibis.Table
        :data:`MRR_COLUMNS`, one row per period from the first paid start to the last start
        or end in the data. Rates are percentages (``NULL`` when the base is zero).
    """
    subs = require_table(subscriptions, name="subscriptions")
    require_columns(
        subs, name="subscriptions", columns=("customer_id", "started_at", "ended_at", "amount")
    )
    subs = in_reporting_currency(
        subs, name="subscriptions", date="started_at", currency=currency, rates=rates
    )
    spec = period_spec(period, tz)
    # the snapshot at the end of each period, shared with period_metrics' subscription activity
    live, bounds = subscription_snapshots(subs.mutate(_mrr=monthly_amount(subs)), spec)
    per = live.group_by([live.customer_id.cast("string").name("customer_id"), "ordinal"]).agg(
        mrr=live._mrr.sum()
    )
    w = ibis.window(group_by="customer_id", order_by="ordinal")
    per = per.mutate(
        prev_ord=per.ordinal.lag().over(w),
        prev_mrr=per.mrr.lag().over(w),
        next_ord=per.ordinal.lead().over(w),
    )
    contiguous = (per.prev_ord == per.ordinal - 1).fill_null(False)
    before = ibis.ifelse(contiguous, per.prev_mrr, ibis.literal(0.0, "float64"))
    diff = per.mrr - before
    zero_f = ibis.literal(0.0, "float64")
    moves = per.mutate(
        new_mrr=ibis.ifelse(per.prev_ord.isnull(), per.mrr, zero_f),
        reactivation_mrr=ibis.ifelse(per.prev_ord.notnull() & ~contiguous, per.mrr, zero_f),
        expansion_mrr=ibis.ifelse(contiguous & (diff > 0), diff, zero_f),
        contraction_mrr=ibis.ifelse(contiguous & (diff < 0), diff, zero_f),
        is_new=flag(per.prev_ord.isnull()),
        is_back=flag(per.prev_ord.notnull() & ~contiguous),
    )
    gained = moves.group_by("ordinal").agg(
        new_mrr=moves.new_mrr.sum(),
        reactivation_mrr=moves.reactivation_mrr.sum(),
        expansion_mrr=moves.expansion_mrr.sum(),
        contraction_mrr=moves.contraction_mrr.sum(),
        mrr=moves.mrr.sum(),
        customers=moves.count(),
        new_customers=moves.is_new.sum(),
        reactivated_customers=moves.is_back.sum(),
    )
    # churn lands in the period after a customer's last contiguous paid period
    gone = per.filter(per.next_ord.isnull() | (per.next_ord != per.ordinal + 1))
    gone = gone.group_by(churn_ordinal=gone.ordinal + 1).agg(
        churned_mrr=-gone.mrr.sum(), churned_customers=gone.count()
    )
    periods = spine(bounds, spec)
    grid = periods.left_join(gained, "ordinal").select(
        *periods.columns, *(c for c in gained.columns if c != "ordinal")
    )
    grid = grid.left_join(gone, grid.ordinal == gone.churn_ordinal).select(
        *grid.columns, "churned_mrr", "churned_customers"
    )
    z = ibis.literal(0, "int64")

    def f(col: str) -> ir.FloatingValue:
        return ibis.coalesce(grid[col], zero_f).cast("float64")

    def i(col: str) -> ir.IntegerValue:
        return ibis.coalesce(grid[col], z).cast("int64")

    grid = grid.select(
        "ordinal",
        "period_start",
        new_mrr=f("new_mrr"),
        expansion_mrr=f("expansion_mrr"),
        contraction_mrr=f("contraction_mrr"),
        churned_mrr=f("churned_mrr"),
        reactivation_mrr=f("reactivation_mrr"),
        mrr=f("mrr"),
        new_customers=i("new_customers"),
        churned_customers=i("churned_customers"),
        reactivated_customers=i("reactivated_customers"),
        customers=i("customers"),
    )
    order = ibis.window(order_by="ordinal")
    grid = grid.mutate(
        mrr_start=ibis.coalesce(grid.mrr.lag().over(order), zero_f),
        customers_start=ibis.coalesce(grid.customers.lag().over(order), z),
    )
    base = ibis.ifelse(grid.mrr_start > 0, grid.mrr_start, ibis.null("float64"))
    logo_base = ibis.ifelse(
        grid.customers_start > 0, grid.customers_start.cast("float64"), ibis.null("float64")
    )
    kept = grid.mrr_start + grid.contraction_mrr + grid.churned_mrr
    out = grid.mutate(
        net_new_mrr=grid.new_mrr
        + grid.expansion_mrr
        + grid.contraction_mrr
        + grid.churned_mrr
        + grid.reactivation_mrr,
        logo_churn_rate=grid.churned_customers.cast("float64") / logo_base * 100.0,
        gross_revenue_retention=kept / base * 100.0,
        net_revenue_retention=(kept + grid.expansion_mrr) / base * 100.0,
    )
    return out.order_by("ordinal").select(*MRR_COLUMNS)
