"""The plan for a request: settings, the warehouse and the planner, and its rows as schemas."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from retain.app.metrics.service import line_named
from retain.app.offers.schemas import PlanAnswer, PlanDecision
from retain.config import Settings
from retain.targeting.offers import (
    OfferPlan,
    plan_from_warehouse,
    reason_label,
    source_note,
    summary_lines,
)

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["answer", "make_plan"]


def make_plan(
    con: BaseBackend,
    settings: Settings,
    *,
    budget: float,
    segment: str | None,
    as_of: str | None,
    definition: str | None,
) -> OfferPlan:
    """The plan with the service's settings (heuristic uplift: the service stores none yet)."""
    line = line_named(settings, definition)
    return plan_from_warehouse(
        con,
        budget=budget,
        definition=line.name,
        settings=settings.offers,
        as_of=as_of,
        segment=segment,
    )


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def _rows(frame: pd.DataFrame) -> list[PlanDecision]:
    return [
        PlanDecision(
            customer_id=str(r["customer_id"]),
            status=r["status"],
            action=str(r["action"]),
            reason=str(r["reason"]),
            reason_label=reason_label(str(r["reason"])),
            churn_probability=float(r["churn_probability"]),
            clv=float(r["clv"]),
            uplift=_number(r["uplift"]),
            uplift_honest=_number(r["uplift_honest"]),
            expected_cost=float(r["expected_cost"]),
            expected_profit=float(r["expected_profit"]),
        )
        for r in frame.to_dict("records")
    ]


def answer(plan: OfferPlan, currency: str, *, limit: int) -> PlanAnswer:
    """The plan's JSON: the summary and the first ``limit`` targets and left-out customers."""
    decisions = plan.decisions
    targets = decisions[decisions["status"] == "target"]
    left = decisions[decisions["status"] != "target"]
    summary = dataclasses.asdict(plan.summary)
    summary["winners_curse"] = plan.summary.winners_curse
    return PlanAnswer(
        plan_id=plan.plan_id,
        as_of=dt.datetime.combine(plan.as_of, dt.time(), tzinfo=dt.UTC) if plan.as_of else None,
        currency=currency,
        uplift_source="heuristic" if plan.heuristic else "history",
        assumed_response_rates=plan.response_rates,
        note=source_note(plan),
        lines=summary_lines(plan, currency),
        summary=summary,
        targets=_rows(targets.head(limit)),
        left_out=_rows(left.head(limit)),
        total_targets=len(targets),
        total_left_out=len(left),
    )
