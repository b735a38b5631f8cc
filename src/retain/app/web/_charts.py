"""Inline SVG charts for the dashboard.

(No JavaScript, no CDN; readable by screen readers through
their ``<title>`` and the data tables beside them).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

__all__ = ["PALETTE", "heat_color", "line_chart", "sparkline"]

PALETTE = ("#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2")


def _points(
    values: Sequence[float | None], width: float, height: float, lo: float, hi: float, pad: float
) -> list[tuple[float, float] | None]:
    n = len(values)
    span = (hi - lo) or 1.0
    out: list[tuple[float, float] | None] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = height - pad - (height - 2 * pad) * ((v - lo) / span)
        out.append((round(x, 1), round(y, 1)))
    return out


def _path(points: list[tuple[float, float] | None]) -> str:
    parts: list[str] = []
    pen_up = True
    for p in points:
        if p is None:
            pen_up = True
            continue
        parts.append(f"{'M' if pen_up else 'L'}{p[0]},{p[1]}")
        pen_up = False
    return " ".join(parts)


def sparkline(
    values: Sequence[float | None], *, label: str, width: int = 160, height: int = 40
) -> Markup:
    """A small trend line with the last point marked."""
    clean = [v for v in values if v is not None]
    if len(clean) < 2:
        return Markup("")
    points = _points(values, width, height, min(clean), max(clean), 4)
    last = next(p for p in reversed(points) if p is not None)
    # Every interpolated text is escaped above; numbers are formatted floats.
    return Markup(  # noqa: S704
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<path d="{_path(points)}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>'
        f'<circle cx="{last[0]}" cy="{last[1]}" r="3" fill="{PALETTE[0]}"/></svg>'
    )


def line_chart(
    series: Sequence[tuple[str, Sequence[float | None]]],
    x_labels: Sequence[str],
    *,
    label: str,
    y_format: str = "{:.0%}",
    width: int = 720,
    height: int = 280,
) -> Markup:
    """Lines over shared x labels with a y axis (min, middle, max) and a legend."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not values or not x_labels:
        return Markup("")
    lo, hi = min(min(values), 0.0), max(values)
    pad, left = 24, 56
    inner_w = width - left
    out = [
        f'<svg class="chart" viewBox="0 0 {width + 40} {height + 40}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
    ]
    for frac in (0.0, 0.5, 1.0):
        y = height - pad - (height - 2 * pad) * frac
        out.append(f'<line x1="{left}" x2="{width - 8}" y1="{y}" y2="{y}" class="grid"/>')
        out.append(
            f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" class="axis">'
            f"{escape(y_format.format(lo + (hi - lo) * frac))}</text>"
        )
    step = max(1, -(-len(x_labels) // 6))  # at most 6 labels, so CJK month names never overlap
    for i in range(0, len(x_labels), step):
        x = (
            left
            + pad
            + (inner_w - 2 * pad) * (i / (len(x_labels) - 1) if len(x_labels) > 1 else 0.5)
        )
        out.append(
            f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle" class="axis">'
            f"{escape(x_labels[i])}</text>"
        )
    for k, (name, vs) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        pts = [
            None if p is None else (p[0] + left, p[1])
            for p in _points(vs, inner_w, height, lo, hi, pad)
        ]
        out.append(f'<path d="{_path(pts)}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        lx = left + (k % 4) * 160
        ly = height + 16 + (k // 4) * 18
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="12" height="12" fill="{color}"/>'
            f'<text x="{lx + 18}" y="{ly + 1}" class="legend">{escape(name)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704  (every text part is escaped)


def heat_color(value: float | None) -> str:
    """Background for a retention cell: darker blue for higher shares, white text when dark."""
    if value is None:
        return ""
    share = max(0.0, min(1.0, float(value)))
    alpha = 0.08 + 0.85 * share
    text = "#fff" if alpha > 0.55 else "#0f172a"
    return f"background: rgba(37, 99, 235, {alpha:.2f}); color: {text}"
