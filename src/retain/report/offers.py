"""The report's offer-plan section: whom a retention budget would reach, and what it should earn.

A report has no budget to ask for, so it plans with a stated default, :data:`BUDGET_SHARE` of
the planned customers' total value at risk (p(churn) x CLV), and says so. The section prints
the summary every plan output prints (first, where the uplift came from: the campaign and model
of the uplift stored by ``retain uplift score`` or the demo pipeline, or, without it, the
assumed response rates), the actions chosen, the customers left out per reason, and the first
customers to contact. No churn scores: no section (the churn section explains).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from retain import warehouse as wh
from retain.i18n import format_currency, format_number, format_percent, t
from retain.models.uplift.scores import stored_uplift
from retain.report.section import Figure, Section
from retain.targeting.offers import (
    LEFT_OUT_REASONS,
    plan_offers,
    planning_customers,
    reason_label,
    summary_lines,
)

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["BUDGET_SHARE", "TOP_TARGETS", "report_sections"]

BUDGET_SHARE = 0.05
"""The report's budget: this share of the planned customers' total value at risk."""
TOP_TARGETS = 20
"""Customers to contact listed in the report."""


def report_sections(con: BaseBackend, settings: Settings) -> list[Section]:
    """The plan section for the default business line, or nothing without churn scores."""
    if not wh.table_exists(con, "churn_scores"):
        return []
    line = settings.churn_definition(None)
    customers = planning_customers(con, definition=line.name)
    if customers.empty:
        return []
    at_risk = float((customers["churn_probability"] * customers["clv"]).sum())
    budget = BUDGET_SHARE * at_risk
    stored = stored_uplift(con)
    plan = plan_offers(
        customers,
        budget=budget,
        settings=settings.offers,
        uplift=None if stored is None else stored.frame,
        source=None if stored is None else stored.label(),
        unmeasured=() if stored is None else stored.unmeasured,
    )
    currency = settings.currency
    lines = summary_lines(plan, currency)
    s = plan.summary
    actions = pd.DataFrame(
        {
            t("offers.col_action"): [a.action for a in s.actions],
            t("offers.col_customer_id"): [format_number(a.customers) for a in s.actions],
            t("offers.col_expected_cost"): [format_currency(a.cost, currency) for a in s.actions],
            t("offers.col_expected_profit"): [
                format_currency(a.expected_profit, currency) for a in s.actions
            ],
        }
    )
    left = pd.DataFrame(
        {
            t("offers.col_reason"): [reason_label(r) for r in LEFT_OUT_REASONS],
            t("offers.col_customer_id"): [format_number(s.left_out[r]) for r in LEFT_OUT_REASONS],
        }
    )
    top = plan.decisions[plan.decisions["status"] == "target"].head(TOP_TARGETS)
    targets = pd.DataFrame(
        {
            t("offers.col_customer_id"): top["customer_id"].astype(str),
            t("offers.col_action"): top["action"],
            t("offers.col_churn_probability"): [
                format_percent(v) for v in top["churn_probability"]
            ],
            t("offers.col_expected_profit"): [
                format_currency(v, currency) for v in top["expected_profit"]
            ],
        }
    )
    note = t(
        "offers.report_budget",
        budget=format_currency(budget, currency),
        share=format_percent(BUDGET_SHARE, digits=0),
    )
    # Source, counts, cost, profit and, from history, the profit's interval (or why it has none).
    head = 4 if plan.heuristic else 5
    return [
        Section(
            key="offers",
            title=t("offers.report_heading"),
            summary=" ".join([note, *lines[:head]]),
            items=[
                Figure(
                    title=t("offers.report_heading"), reading=" ".join(lines[head:]), table=actions
                ),
                Figure(title=t("offers.left_out_heading"), reading=lines[-2], table=left),
                Figure(title=t("offers.targets_heading"), reading=lines[0], table=targets),
            ],
        )
    ]
