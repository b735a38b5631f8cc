"""The report's uplift section: what the newest evaluated campaign changed, and for whom.

The section reads the stored evaluation (``uplift_evaluations``, written by
``retain uplift evaluate --store`` and by the demo pipeline's uplift step) of the newest
campaign that has one: the measured effect, the Qini curves of targeting by predicted uplift,
by churn risk and at random on customers the model never saw, their scores with intervals, and
the measured uplift by decile of the prediction. Nothing is trained here: a report is built
in seconds and says the same as the Uplift page. When randomized campaigns exist but none is
evaluated, the section says so and names the command that stores one; a newer campaign without
an evaluation is named too. No campaign with a holdout: no section.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from retain import warehouse as wh
from retain.i18n import format_date, format_number, format_percent, t
from retain.models.uplift import list_campaigns
from retain.models.uplift.evaluations import (
    StoredEvaluation,
    list_evaluations,
    stored_evaluation,
)
from retain.report.section import Figure, Section

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["report_sections"]

_RATES = ("retention", "conversion")
"""Outcomes measured as a share of customers (revenue is an amount)."""


def _curves(found: StoredEvaluation) -> go.Figure:
    fig = go.Figure()
    for (arm, policy), part in found.curves.groupby(["arm", "policy"], sort=False):
        label = t(f"uplift.policy_{policy}")
        name = label if found.curves["arm"].nunique() == 1 else f"{arm}: {label}"
        fig.add_trace(go.Scatter(x=part["share"], y=part["qini"], mode="lines", name=name))
    fig.update_layout(
        xaxis_title=t("uplift.report_axis_share"),
        yaxis_title=t("uplift.report_axis_qini"),
        xaxis_tickformat=".0%",
        yaxis_tickformat=".1%",
        margin={"l": 50, "r": 20, "t": 30, "b": 40},
        height=360,
    )
    return fig


def _interval(row: Any, key: str) -> str:
    """``value [low, high]`` of ``key`` in a row with ``key``, ``key_low`` and ``key_high``."""
    value, low, high = (float(getattr(row, f"{key}{end}")) for end in ("", "_low", "_high"))
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _amount(value: float, outcome: str) -> str:
    """An effect as a share (retention, conversion) or a number (revenue)."""
    if outcome in _RATES:
        return format_percent(value, digits=1)
    return format_number(value, digits=2)


def _uplifts(row: Any, outcome: str) -> str:
    """A decile's measured uplift and its interval: percentages of a rate, else amounts."""
    value, low, high = (float(getattr(row, f"uplift{end}")) for end in ("", "_low", "_high"))
    shown = (_amount(v, outcome) for v in (value, low, high))
    return "{} [{}, {}]".format(*shown)


def _outcome(name: str) -> str:
    key = f"uplift.outcome_{name}"
    label = t(key)
    return name if label == key else label


def _summary(found: StoredEvaluation) -> str:
    """One sentence per arm: who got the offer, who was held out, what it changed."""
    outcome = _outcome(found.outcome)
    one = found.effects.shape[0] == 1

    def sentence(row: Mapping[Hashable, Any]) -> str:
        return t(
            "uplift.report_summary",
            campaign=found.campaign_id if one else f"{found.campaign_id} ({row['arm']})",
            outcome=outcome,
            treated=format_number(int(row["n_treated"])),
            control=format_number(int(row["n_control"])),
            effect=_amount(float(row["effect"]), found.outcome),
            low=_amount(float(row["effect_low"]), found.outcome),
            high=_amount(float(row["effect_high"]), found.outcome),
            date=format_date(found.evaluated_at.date()),
        )

    return " ".join(sentence(row) for row in found.effects.to_dict("records"))


def _not_stored(campaign: str) -> Section:
    return Section(
        key="uplift",
        title=t("uplift.report_heading"),
        summary=t("uplift.report_not_stored", campaign=campaign),
    )


def report_sections(con: BaseBackend, settings: Settings) -> list[Section]:
    """The stored evaluation of the newest evaluated campaign, or what to run (module docs)."""
    del settings  # the stored evaluation names everything it needs
    if not wh.table_exists(con, "interactions"):
        return []
    campaigns = list_campaigns(con)
    evaluated = list_evaluations(con)
    if campaigns.empty and evaluated.empty:
        return []
    if evaluated.empty:
        return [_not_stored(str(campaigns["campaign_id"].iloc[-1]))]
    campaign = str(evaluated["campaign_id"].iloc[-1])
    found = stored_evaluation(con, campaign)
    if found is None:  # removed between the two reads
        return [_not_stored(campaign)]
    notes = []
    if not campaigns.empty:
        newest = campaigns.iloc[-1]
        started = found.started_at
        newer = started is not None and pd.Timestamp(newest["started_at"]) > started
        if newer and str(newest["campaign_id"]) not in set(evaluated["campaign_id"].astype(str)):
            notes.append(t("uplift.report_newer", campaign=str(newest["campaign_id"])))
    if "churn_risk" not in set(found.policies.get("policy", pd.Series(dtype=str))):
        notes.append(t("uplift.no_risk"))
    policies = pd.DataFrame(
        {
            t("uplift.col_arm"): found.policies["arm"],
            t("uplift.col_policy"): [t(f"uplift.policy_{p}") for p in found.policies["policy"]],
            "Qini": [_interval(r, "qini") for r in found.policies.itertuples()],
            "AUUC": [_interval(r, "auuc") for r in found.policies.itertuples()],
            # an uplift in the outcome's unit: a share for a rate, an amount for revenue
            t("uplift.col_top30"): [
                _amount(float(v), found.outcome) for v in found.policies["uplift_at"]
            ],
        }
    )
    deciles = pd.DataFrame(
        {
            t("uplift.col_arm"): found.deciles["arm"],
            t("uplift.col_decile"): found.deciles["decile"],
            t("uplift.col_customers"): found.deciles["n_treated"] + found.deciles["n_control"],
            t("uplift.col_uplift"): [
                _uplifts(r, found.outcome) for r in found.deciles.itertuples()
            ],
        }
    )
    model = next(r for r in found.policies.itertuples() if r.policy == "model")
    reading = t(
        "uplift.report_curve_reading",
        customers=format_number(found.n_test),
        qini=_interval(model, "qini"),
    )
    return [
        Section(
            key="uplift",
            title=t("uplift.report_heading"),
            summary=" ".join([_summary(found), *notes]),
            items=[
                Figure(
                    title=t("uplift.report_curve_title"), reading=reading, figure=_curves(found)
                ),
                Figure(
                    title=t("uplift.report_policies_title"),
                    reading=t("uplift.report_policies_reading"),
                    table=policies,
                ),
                Figure(
                    title=t("uplift.title_deciles"),
                    reading=t("uplift.report_deciles_reading"),
                    table=deciles,
                ),
            ],
        )
    ]
