"""Churn labels: who is at risk at a reference date, and who churned within the horizon after it.

The population at risk differs by kind of business (``ChurnDefinition.kind``):

- **non-contractual** (shops): a customer is in the population at ``as_of`` when they had at least
  one activity (a completed order, or an event of the configured names) strictly before
  ``as_of``. They *churn* when they have no activity in ``[as_of, as_of + H)``.
- **contractual** (subscriptions): a customer is in the population when a subscription (on one of
  the configured plans, or any plan) is active at ``as_of``: started before it and not ended
  before it. They *churn* when no such subscription is active any more at ``as_of + H``: the
  contract ended inside the horizon and was not replaced (a plan change is not churn).

Labels look at data after ``as_of`` by design; features never do (see
:func:`retain.features.feature_snapshot`). A label is only trustworthy when the data reaches
``as_of + H``; :func:`label_window_complete` says whether it does.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.config import ChurnDefinition
from retain.facts import DateLike, as_timestamp, flag
from retain.features.sources import SourceLike, Sources
from retain.i18n import t

__all__ = ["churn_labels", "label_window_complete", "population"]


def _at(moment: pd.Timestamp) -> ir.Value:
    return ibis.literal(moment.to_pydatetime())


def _active_subscriptions(sources: Sources, definition: ChurnDefinition, at: ir.Value) -> ir.Table:
    """Subscriptions active at the timestamp literal ``at``: started before, not ended before."""
    subs = sources.subscriptions
    if subs is None:
        from retain.errors import MissingColumnError, Violation

        raise MissingColumnError(
            [
                Violation(
                    rule="no_activity_table",
                    message=t("churn.no_subscriptions", definition=definition.name),
                    file="subscriptions",
                    hint=t("churn.no_subscriptions_hint"),
                )
            ]
        )
    if definition.plans:
        subs = subs.filter(subs.plan.isin(definition.plans))
    return subs.filter((subs.started_at < at) & (subs.ended_at.isnull() | (subs.ended_at >= at)))


def population(
    con_or_tables: SourceLike, *, as_of: DateLike, definition: ChurnDefinition
) -> ir.Table:
    """Customers at risk at ``as_of`` (one column, ``customer_id``); see the module docstring."""
    sources = Sources.of(con_or_tables)
    return _population(sources, _at(as_timestamp(as_of)), definition)


def _population(sources: Sources, as_of: ir.Value, definition: ChurnDefinition) -> ir.Table:
    """Customers at risk at the timestamp literal ``as_of``.

    The feature snapshot passes its clock's literal, so that one compiled query serves every date.
    """
    if definition.kind == "contractual":
        active = _active_subscriptions(sources, definition, as_of)
        return active.select("customer_id").distinct()
    acts = sources.activity(definition)
    return acts.filter(acts.at < as_of).select("customer_id").distinct()


def churn_labels(
    con_or_tables: SourceLike, *, as_of: DateLike, definition: ChurnDefinition
) -> ir.Table:
    """Label each customer at risk at ``as_of``: ``churned`` is 1 if they churn within H days.

    Parameters
    ----------
    con_or_tables
        A warehouse connection, or a mapping of canonical table names to Ibis tables or frames.
    as_of
        The reference date (naive UTC).
    definition
        The business line's churn definition (``settings.churn``): kind, horizon ``H`` in days,
        and what counts as activity.

    Returns
    -------
    ibis.Table
        ``customer_id`` (string) and ``churned`` (int8, 0 or 1), one row per customer in the
        population. Nothing is executed.
    """
    sources = Sources.of(con_or_tables)
    start = as_timestamp(as_of)
    end = start + pd.Timedelta(days=definition.horizon_days)
    pop = _population(sources, _at(start), definition)
    if definition.kind == "contractual":
        kept = _active_subscriptions(sources, definition, _at(end)).select("customer_id").distinct()
    else:
        acts = sources.activity(definition)
        window = (acts.at >= _at(start)) & (acts.at < _at(end))
        kept = acts.filter(window).select("customer_id").distinct()
    kept = kept.mutate(_kept=ibis.literal(1))
    joined = pop.left_join(kept, "customer_id").drop("customer_id_right")
    return joined.select("customer_id", churned=flag(joined._kept.isnull()).cast("int8")).order_by(
        "customer_id"
    )


def label_window_complete(
    data_end: DateLike, *, as_of: DateLike, definition: ChurnDefinition
) -> bool:
    """Whether data through ``data_end`` covers the whole horizon after ``as_of``."""
    return as_timestamp(as_of) + pd.Timedelta(days=definition.horizon_days) <= as_timestamp(
        data_end, name="data_end"
    )
