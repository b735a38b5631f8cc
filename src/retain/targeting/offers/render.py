"""A plan in words: the summary lines every output prints, in the reader's language.

The CLI, the dashboard page, the API and the report all print these lines, so each says the
same thing, including whether the uplift is the no-history heuristic (and its assumed rates).
"""

from __future__ import annotations

from collections.abc import Callable

from retain.i18n import format_currency, format_number, format_percent, t
from retain.targeting.offers.optimize import LEFT_OUT_REASONS
from retain.targeting.offers.plan import OfferPlan

__all__ = ["reason_label", "source_note", "summary_lines"]


def reason_label(reason: str) -> str:
    """``over_budget`` -> "Over budget" (``target`` and ``holdout`` too)."""
    return t(f"offers.reason_{reason}")


def source_note(plan: OfferPlan) -> str:
    """Where the uplift came from: the heuristic with its assumed rates, or campaign history."""
    if plan.heuristic:
        rates = ", ".join(
            f"{name} {format_percent(rate, digits=1)}" for name, rate in plan.response_rates.items()
        )
        return t("offers.heuristic", rates=rates)
    if plan.source:
        return t("offers.history_from", source=plan.source)
    return t("offers.history")


def summary_lines(plan: OfferPlan, currency: str) -> list[str]:
    """The source note, counts, cost, profit, ROI, interval, correction, measured losses, etc.

    Without an interval a line says why (and, for stored uplift, how to score it again).
    """
    s = plan.summary

    def money(value: float) -> str:
        return format_currency(value, currency)

    lines = [
        source_note(plan),
        t(
            "offers.line_customers",
            customers=format_number(s.customers),
            targets=format_number(s.targets),
            holdout=format_number(s.holdout),
        ),
        t("offers.line_cost", cost=money(s.total_cost), budget=money(s.budget)),
        t(
            "offers.line_profit",
            profit=money(s.expected_profit),
            roi="-" if s.roi is None else format_percent(s.roi, digits=0),
        ),
    ]
    if s.profit_low is not None and s.profit_high is not None:
        lines.append(t("offers.line_interval", low=money(s.profit_low), high=money(s.profit_high)))
    elif plan.unmeasured:
        lines.append(t("offers.line_no_interval_stored", actions=", ".join(plan.unmeasured)))
    elif not plan.heuristic:
        lines.append(t("offers.line_no_interval"))
    if not plan.heuristic:
        lines.append(
            t("offers.line_curse", naive=money(s.naive_profit), correction=money(s.winners_curse))
        )
    lines += [
        t(
            "offers_honest.line_refuted",
            action=r.action,
            customers=format_number(r.customers),
            profit=money(r.honest_profit),
            high=money(r.high),
        )
        for r in s.refuted
    ]
    if s.measured_losses:
        lines.append(
            t(
                "offers_honest.line_measured_losses",
                customers=format_number(s.measured_losses),
                profit=money(s.measured_loss_profit),
            )
        )
    lines += _optimality_lines(plan, money)
    lines += [
        t(
            "offers.line_action",
            action=a.action,
            customers=format_number(a.customers),
            cost=money(a.cost),
            profit=money(a.expected_profit),
        )
        for a in s.actions
        if a.customers
    ]
    reasons = ", ".join(
        f"{reason_label(r)} {format_number(s.left_out[r])}" for r in LEFT_OUT_REASONS
    )
    lines.append(t("offers.line_left_out", reasons=reasons))
    lines.append(
        t(
            "offers.line_what_if",
            points=format_number(s.what_if_points, digits=0),
            profit=money(s.what_if_profit),
        )
    )
    return lines


def _optimality_lines(plan: OfferPlan, money: Callable[[float], str]) -> list[str]:
    """How close the choice is to the best plan possible under the same estimates."""
    s = plan.summary
    share = s.optimality
    if share is None:
        return []
    gap = max(s.best_possible - s.chosen_profit, 0.0)
    if gap <= 1e-9 * s.best_possible:
        return [t("offers_solver.line_optimal")]
    return [
        t(
            "offers_solver.line_bound",
            share=format_percent(share, digits=1),
            gap=money(gap),
        )
    ]
