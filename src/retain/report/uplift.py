"""The report's uplift section: what the newest randomized campaign changed, and for whom.

For the newest campaign with a random holdout, the section shows the measured effect on
conversion (an order within 60 days), then a T-learner judged on the 30 % of its customers it
did not see: the Qini curves of targeting by predicted uplift, by churn risk (when a registered
churn model fits the campaign's features) and at random, their scores with intervals, and the
measured uplift by decile of the prediction. No campaign with a holdout, or no orders or events
to measure an outcome with: no section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from retain import warehouse as wh
from retain.i18n import format_number, format_percent, t
from retain.models.uplift import Outcome, campaign_dataset, list_campaigns
from retain.models.uplift.assess import Assessment, assess_campaign, churn_risk, make_learner
from retain.report.section import Figure, Section

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["OUTCOME", "WINDOW_DAYS", "report_sections"]

OUTCOME: Outcome = "conversion"
"""What the section measures: a completed order in the window."""
WINDOW_DAYS = 60


def _curves(found: Assessment) -> go.Figure:
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


def _percents(row: Any) -> str:
    """A decile's measured uplift and its interval, as percentages."""
    value, low, high = (float(getattr(row, f"uplift{end}")) for end in ("", "_low", "_high"))
    shown = (format_percent(v, digits=1) for v in (value, low, high))
    return "{} [{}, {}]".format(*shown)


def report_sections(con: BaseBackend, settings: Settings) -> list[Section]:
    """The uplift section for the newest randomized campaign, or nothing (module docstring)."""
    if not (wh.table_exists(con, "orders") or wh.table_exists(con, "events")):
        return []
    if not wh.table_exists(con, "interactions"):
        return []
    listed = list_campaigns(con)
    if listed.empty:
        return []
    campaign = str(listed["campaign_id"].iloc[-1])
    definition = settings.churn_definition(None)
    data = campaign_dataset(
        con, campaign, outcome=OUTCOME, window_days=WINDOW_DAYS, definition=definition
    )
    risk = churn_risk(data, settings.models_dir)
    found, _ = assess_campaign(data, make_learner("t"), risk=risk, n_boot=100)
    effect = {k: float(v) for k, v in found.effects.iloc[0].items() if k != "arm"}
    summary = t(
        "uplift.report_summary",
        campaign=campaign,
        treated=format_number(int(effect["n_treated"])),
        control=format_number(int(effect["n_control"])),
        effect=format_percent(effect["effect"], digits=1),
        low=format_percent(effect["effect_low"], digits=1),
        high=format_percent(effect["effect_high"], digits=1),
        days=WINDOW_DAYS,
    )
    policies = pd.DataFrame(
        {
            t("uplift.col_arm"): found.policies["arm"],
            t("uplift.col_policy"): [t(f"uplift.policy_{p}") for p in found.policies["policy"]],
            "Qini": [_interval(r, "qini") for r in found.policies.itertuples()],
            "AUUC": [_interval(r, "auuc") for r in found.policies.itertuples()],
            t("uplift.col_top30"): [
                format_percent(float(v), digits=1) for v in found.policies["uplift_at"]
            ],
        }
    )
    deciles = pd.DataFrame(
        {
            t("uplift.col_arm"): found.deciles["arm"],
            t("uplift.col_decile"): found.deciles["decile"],
            t("uplift.col_customers"): found.deciles["n_treated"] + found.deciles["n_control"],
            t("uplift.col_uplift"): [_percents(r) for r in found.deciles.itertuples()],
        }
    )
    model = next(r for r in found.policies.itertuples() if r.policy == "model")
    reading = t(
        "uplift.report_curve_reading",
        customers=format_number(found.n_test),
        qini=_interval(model, "qini"),
    )
    notes = [] if risk is not None else [t("uplift.no_risk")]
    return [
        Section(
            key="uplift",
            title=t("uplift.report_heading"),
            summary=" ".join([summary, *notes]),
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
