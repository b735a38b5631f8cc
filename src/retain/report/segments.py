"""The report's customer-segments section: RFM sizes and the movement matrix.

Built from what ``retain segments rfm`` stored (:mod:`retain.targeting.segments`): the segment
sizes on the latest stored date and, with two or more dates, the matrix of who moved from each
segment (rows, the date before) to each segment (columns, the latest date). Nothing stored: no
section, since segments are an optional step and the rest of the report does not need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from retain.i18n import format_date, format_number, format_percent, t
from retain.report.section import Figure, Section
from retain.targeting.segments import (
    SEGMENT_NAMES,
    membership_dates,
    memberships,
    movement_matrix,
    segment_label,
)

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["report_sections"]


def _sizes(con: BaseBackend, stamp: pd.Timestamp) -> Figure:
    counts = memberships(con, "rfm", stamp).to_pandas()["segment"].value_counts()
    total = int(counts.sum())
    table = pd.DataFrame(
        {
            t("segments.col_segment"): [segment_label(n) for n in SEGMENT_NAMES["rfm"]],
            t("segments.col_customers"): [int(counts.get(n, 0)) for n in SEGMENT_NAMES["rfm"]],
            t("segments.col_share"): [
                format_percent(float(counts.get(n, 0)) / total if total else 0.0)
                for n in SEGMENT_NAMES["rfm"]
            ],
        }
    )
    day = format_date(stamp)
    return Figure(
        title=t("segments.page_sizes_title", date=day),
        reading=t("segments.title_rfm", date=day, customers=format_number(total)),
        table=table,
    )


def _movement(con: BaseBackend, start: pd.Timestamp, end: pd.Timestamp) -> Figure:
    matrix = movement_matrix(con, "rfm", start, end)
    table = matrix.rename(index=segment_label, columns=segment_label).reset_index()
    corner = f"{t('segments.col_from_segment')} \\ {t('segments.col_to_segment')}"
    table = table.rename(columns={table.columns[0]: corner})
    table.columns = pd.Index([str(c) for c in table.columns])
    dates = {"start": format_date(start), "end": format_date(end)}
    total = format_number(int(matrix.to_numpy().sum()))
    return Figure(
        title=t("segments.title_movement", scheme="RFM", customers=total, **dates),
        reading=t("segments.page_movement_lead", **dates),
        table=table,
    )


def report_sections(con: BaseBackend, settings: Settings) -> list[Section]:
    """The segments section when RFM memberships are stored, else nothing."""
    del settings  # segments are stored with their dates; nothing here depends on settings
    dates = membership_dates(con, "rfm")
    if not dates:
        return []
    items = [_sizes(con, dates[-1])]
    if len(dates) > 1:
        items.append(_movement(con, dates[-2], dates[-1]))
    return [
        Section(
            key="segments",
            title=t("segments.report_title"),
            summary=t("segments.report_lead"),
            items=items,
        )
    ]
