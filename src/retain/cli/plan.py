"""``retain plan --budget B``: whom to give which retention offer with this budget.

Reads the latest churn and CLV scores (``--as-of``: as known then), keeps one stored segment
(``--segment``), plans with :func:`retain.targeting.offers.plan_offers` and prints the summary
(where the uplift came from, the honest profit, the winner's-curse correction, the what-if line,
who is left out and why) and the customers to contact. ``--format csv|json`` writes every
customer's decision, left-out ones with their reason; each row and the JSON name the uplift
source, so a heuristic plan never passes for a measured one. ``--uplift FILE`` reads campaign
uplift (``customer_id, action, uplift, uplift_honest``, CSV or Parquet) as
``retain.models.uplift`` writes it; ``--campaign CMP-04=coupon_20`` learns it from a past
campaign with a random holdout instead (:func:`retain.targeting.offers.campaign_uplift`).
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import ibis
import pandas as pd
import typer

import retain.warehouse as wh
from retain.cli._app import app, console, settings
from retain.cli._segment_rules import find_saved
from retain.cli._tables import print_frame
from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.i18n import format_currency, format_percent, t
from retain.targeting.export import csv_cell
from retain.targeting.offers import (
    OfferPlan,
    plan_from_warehouse,
    reason_label,
    source_note,
    summary_lines,
)
from retain.targeting.segments import SEGMENT_NAMES
from retain.targeting.segments.saved import members_of

__all__ = ["plan", "plan_json", "read_uplift"]

SHOWN = 50
"""Customers the terminal table lists (files get every customer)."""


class PlanFormat(StrEnum):
    """How the plan is printed."""

    table = "table"
    csv = "csv"
    json = "json"


def read_uplift(path: Path) -> pd.DataFrame:
    """The uplift frame of a CSV or Parquet file, or a clear error naming the file."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={"customer_id": str, "action": str})
    except (OSError, ValueError) as exc:
        raise InvalidParameterError(
            t("offers.bad_uplift_file", path=str(path), error=str(exc)),
            hint=t("offers.bad_uplift_file_hint"),
        ) from None


def _campaigns(values: list[str]) -> dict[str, str]:
    """``CAMPAIGN=ACTION`` options as a mapping, or a clear error naming the bad one."""
    out: dict[str, str] = {}
    for value in values:
        campaign, sep, action = value.partition("=")
        if not sep or not campaign.strip() or not action.strip():
            raise InvalidParameterError(
                t("offers.bad_campaign", value=value), hint=t("offers.bad_campaign_hint")
            )
        out[campaign.strip()] = action.strip()
    return out


def _saved_members(
    con: Any, segment: str, *, line: ChurnDefinition, as_of: str | None
) -> ibis.Table | None:
    """A saved segment's members when ``segment`` names one and no stored segment; else None.

    Stored segment names (``at_risk``, ``champions``...) win, as before saved segments existed;
    an unknown name falls through to the planner's error, which lists the stored names.
    """
    if any(segment in names for names in SEGMENT_NAMES.values()):
        return None
    found = find_saved(segment)
    if found is None:
        return None
    _, query = found
    members, _ = members_of(con, query, line=line, as_of=as_of)
    return members


def plan_json(plan: OfferPlan, currency: str) -> dict[str, Any]:
    """The plan as JSON: id, uplift source and its note, the summary, every decision."""
    summary = dataclasses.asdict(plan.summary)
    summary["winners_curse"] = plan.summary.winners_curse
    return {
        "plan_id": plan.plan_id,
        "as_of": plan.as_of.isoformat() if plan.as_of else None,
        "currency": currency,
        "uplift_source": "heuristic" if plan.heuristic else "history",
        "assumed_response_rates": plan.response_rates,
        "note": source_note(plan),
        "summary": summary,
        "decisions": json.loads(
            plan.decisions.round(6).to_json(orient="records", force_ascii=False)
        ),
    }


def _rows(plan: OfferPlan) -> pd.DataFrame:
    """Every decision with the uplift source and the plan's 95 % interval on each row (for CSV)."""
    out = plan.decisions.round(6)
    return out.assign(
        uplift_source="heuristic" if plan.heuristic else "history",
        plan_profit_low=plan.summary.profit_low,
        plan_profit_high=plan.summary.profit_high,
    )


def _table(plan: OfferPlan, currency: str) -> None:
    s = plan.summary
    console.print(
        t(
            "offers.title",
            plan_id=plan.plan_id,
            targets=s.targets,
            budget=format_currency(s.budget, currency),
        ),
        highlight=False,
    )
    for line in summary_lines(plan, currency):
        console.print(line, highlight=False, soft_wrap=True)
    targets = plan.decisions[plan.decisions["status"] == "target"].head(SHOWN)
    shown = pd.DataFrame(
        {
            t("offers.col_customer_id"): targets["customer_id"],
            t("offers.col_action"): targets["action"],
            t("offers.col_churn_probability"): [
                format_percent(v) for v in targets["churn_probability"]
            ],
            t("offers.col_uplift_honest"): [format_percent(v) for v in targets["uplift_honest"]],
            t("offers.col_expected_cost"): [
                format_currency(v, currency) for v in targets["expected_cost"]
            ],
            t("offers.col_expected_profit"): [
                format_currency(v, currency) for v in targets["expected_profit"]
            ],
            t("offers.col_reason"): [reason_label(r) for r in targets["reason"]],
        }
    )
    print_frame(console, shown, title=t("offers.targets_heading"))


@app.command()
def plan(
    budget: Annotated[
        float, typer.Option("--budget", help="Most to spend, in the reporting currency.")
    ],
    segment: Annotated[
        str | None,
        typer.Option(
            "--segment",
            help="Only this segment: a stored one (e.g. at_risk) or a saved segment's name.",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Plan on the scores known on this date (YYYY-MM-DD)."),
    ] = None,
    definition: Annotated[
        str | None,
        typer.Option("--definition", "-d", help="Churn definition ([[churn]] name)."),
    ] = None,
    uplift: Annotated[
        Path | None,
        typer.Option(
            "--uplift",
            exists=True,
            dir_okay=False,
            help="Campaign uplift: customer_id, action, uplift, uplift_honest (CSV/Parquet). "
            "Without it the plan uses risk x assumed response rate, and says so.",
        ),
    ] = None,
    campaign: Annotated[
        list[str] | None,
        typer.Option(
            "--campaign",
            help="Learn uplift from a past campaign with a random holdout, as CAMPAIGN=ACTION "
            "(e.g. CMP-04=coupon_20); repeatable.",
        ),
    ] = None,
    plan_id: Annotated[
        str | None,
        typer.Option("--plan-id", help="Names the plan and seeds its holdout (default: derived)."),
    ] = None,
    fmt: Annotated[
        PlanFormat, typer.Option("--format", "-f", help="table (default), csv or json.")
    ] = PlanFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead.")
    ] = None,
) -> None:
    """With this budget, whom to give what: targets, reasons, honest profit and a holdout."""
    conf = settings()
    line = conf.churn_definition(definition)
    con = wh.connect(settings=conf, read_only=True)
    members = _saved_members(con, segment, line=line, as_of=as_of) if segment else None
    result = plan_from_warehouse(
        con,
        budget=budget,
        definition=line.name,
        settings=conf.offers,
        as_of=as_of,
        segment=segment,
        members=members,
        uplift=read_uplift(uplift) if uplift is not None else None,
        plan_id=plan_id,
        campaigns=_campaigns(campaign or []),
        line=line,
    )
    if fmt is PlanFormat.table:
        _table(result, conf.currency)
        return
    if fmt is PlanFormat.csv:
        # As the API's plan.csv: an id a spreadsheet would run as a formula gets a leading "'".
        text = _rows(result).map(csv_cell).to_csv(index=False)
    else:
        text = json.dumps(plan_json(result, conf.currency), ensure_ascii=False, indent=1)
    if output is None:
        typer.echo(text, nl=fmt is PlanFormat.json)
        return
    output.write_text(text, encoding="utf-8")
    console.print(
        t("metrics.cli_written", path=str(output), rows=len(result.decisions)), highlight=False
    )
