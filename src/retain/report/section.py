"""A report section: what every analysis contributes to ``retain report``.

Each area (metrics, lifetime value, churn risk) provides functions that return :class:`Section`
objects; ``retain.report.html`` lays them out in one self-contained file. A section holds Plotly
figures and/or tables, each with a one-line reading of what it shows, so the report stays
readable without the charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Figure", "Section"]


@dataclass
class Figure:
    """A chart or table with a one-line reading ("Month-3 retention rose from 21% to 28%")."""

    title: str
    reading: str
    figure: Any = None
    """A ``plotly.graph_objects.Figure``, or ``None`` for a table-only item."""
    table: pd.DataFrame | None = None


@dataclass
class Section:
    """A titled part of the report (``KPIs``, ``Cohorts``, ``Lifetime value``, ``Churn risk``)."""

    key: str
    """Stable anchor, e.g. ``cohorts``."""
    title: str
    summary: str = ""
    items: list[Figure] = field(default_factory=list)
