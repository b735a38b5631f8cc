"""Reports: Plotly charts for notebooks and the self-contained HTML of ``retain report``.

- :mod:`retain.report.charts` ``plot_*`` functions returning Plotly figures;
- :func:`build_report` builds every area in :data:`SECTIONS` (retention, lifetime value, churn
  risk; :mod:`retain.report.contents`) into :class:`Section` objects;
- :func:`render_report` writes them as one HTML file that opens offline.
"""

from __future__ import annotations

from retain.report.contents import SECTIONS, ReportSectionError, SectionProvider, build_report
from retain.report.html import render_report
from retain.report.section import Figure, Section

__all__ = [
    "SECTIONS",
    "Figure",
    "ReportSectionError",
    "Section",
    "SectionProvider",
    "build_report",
    "render_report",
]
