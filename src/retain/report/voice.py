"""The report's complaint-volume section: complaints per day, one line per channel.

Reads :func:`retain.voice.volume.complaint_volume` (``interactions`` of kind ``complaint``) and
charts it in the report's style (:mod:`retain.report.charts`); the table beside it gives each
group's total and busiest day. No complaints: no section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from retain.i18n import format_date, format_number, t
from retain.report.charts import _layout
from retain.report.section import Figure, Section
from retain.voice.volume import complaint_volume

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["plot_volume", "report_sections", "volume_table"]


def plot_volume(volume: pd.DataFrame, *, title: str) -> go.Figure:
    """One line per group of ``day, group, complaints`` (from :mod:`retain.voice.volume`)."""
    fig = go.Figure()
    for group, rows in volume.groupby("group", sort=True):
        fig.add_trace(
            go.Scatter(x=rows["day"], y=rows["complaints"], mode="lines+markers", name=str(group))
        )
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, title)


def volume_table(volume: pd.DataFrame) -> pd.DataFrame:
    """Each group's total complaints and its busiest day, largest total first."""
    totals = volume.groupby("group")["complaints"].sum().sort_values(ascending=False)
    peaks = volume.loc[volume.groupby("group")["complaints"].idxmax()].set_index("group")
    return pd.DataFrame(
        {
            t("voice.col_group"): totals.index.astype(str),
            t("voice.col_complaints"): [format_number(int(v)) for v in totals],
            t("voice.col_peak_day"): [format_date(peaks.loc[g, "day"]) for g in totals.index],
        }
    )


def report_sections(con: BaseBackend, settings: Settings) -> list[Section]:  # noqa: ARG001
    """The complaint-volume section by channel, or nothing when no complaint is recorded."""
    volume = complaint_volume(con, by="channel")
    if volume.empty or int(volume["complaints"].sum()) == 0:
        return []
    total = format_number(int(volume["complaints"].sum()))
    group = t("voice.group_channel")
    title = t("voice.report_title")
    return [
        Section(
            key="complaints",
            title=title,
            summary=t("voice.report_intro", group=group, total=total),
            items=[
                Figure(
                    title=title,
                    reading=t("voice.report_intro", group=group, total=total),
                    figure=plot_volume(volume, title=title),
                    table=volume_table(volume),
                )
            ],
        )
    ]
