"""Reports: Plotly charts for notebooks and the self-contained HTML of ``retain report``.

- :mod:`retain.report.charts` ``plot_*`` functions returning Plotly figures;
- :func:`build_report` collects every area's :class:`Section` objects;
- :func:`render_report` writes them as one HTML file that opens offline.
"""

from __future__ import annotations

from retain.report.html import build_report, render_report
from retain.report.section import Figure, Section

__all__ = ["Figure", "Section", "build_report", "render_report"]
