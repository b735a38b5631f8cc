"""Complaint volume per day and per group (channel, brand, reason...), for charts and alerts.

A complaint is an ``interactions`` row of kind ``complaint`` (the kinds are a parameter, e.g.
``ticket_opened`` too). ``by`` is a column of ``interactions`` (``channel``) or a key of its
``properties`` (``reason``, ``airline``, ``brand``); rows without a value count as ``unknown``.
Days are calendar days of the stored time (the writer's local day when all times carry one
UTC offset, else UTC days).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from retain import warehouse as wh
from retain.facts.attributes import json_text

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["VOLUME_COLUMNS", "complaint_volume", "daily_volume"]

VOLUME_COLUMNS = ("day", "group", "complaints")


def daily_volume(frame: pd.DataFrame, *, time: str, group: str) -> pd.DataFrame:
    """``day, group, complaints`` of a frame of complaints (one row each), every day and group.

    Days with no complaint in a group read 0, so lines on a chart do not skip quiet days.
    """
    if frame.empty:
        return pd.DataFrame(columns=list(VOLUME_COLUMNS))
    stamps = pd.to_datetime(frame[time], errors="coerce")  # local wall time when one offset
    if not pd.api.types.is_datetime64_any_dtype(stamps):  # mixed offsets: UTC days
        stamps = pd.to_datetime(frame[time], utc=True, errors="coerce")
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    days = stamps.dt.normalize()
    groups = frame[group].fillna("unknown").astype(str).replace("", "unknown")
    counts = pd.crosstab(days, groups)
    full = pd.date_range(counts.index.min(), counts.index.max(), freq="D")
    counts = counts.reindex(full, fill_value=0)
    counts.index.name = "day"
    long = counts.stack().reset_index()
    long.columns = list(VOLUME_COLUMNS)
    long["complaints"] = long["complaints"].astype(int)
    return long.sort_values(["day", "group"]).reset_index(drop=True)


def complaint_volume(
    con: BaseBackend, *, by: str = "channel", kinds: Sequence[str] = ("complaint",)
) -> pd.DataFrame:
    """``day, group, complaints`` of the warehouse's complaints grouped by ``by`` (see module)."""
    if not wh.table_exists(con, "interactions"):
        return pd.DataFrame(columns=list(VOLUME_COLUMNS))
    rows = wh.read_table(con, "interactions")
    rows = rows.filter(rows.kind.isin(list(kinds)))
    if by in rows.columns:
        value = rows[by].cast("string")
    else:
        value = json_text(rows.properties.cast("string"), by)
    frame = rows.select("occurred_at", group=value).to_pandas()
    return daily_volume(frame, time="occurred_at", group="group")
