"""The RFM segment names: one declarative rule table on the (R, F) scores.

Each rule names a segment and the recency and frequency scores (on the classic five-point
scale) it covers; the first rule that matches a customer names them. The table covers every
(R, F) pair from 1 to 5 exactly once (tests check it), so every scored customer has one name.
With a number of bins other than five, scores are first mapped onto the five-point scale
(:func:`to_five`), so the same table serves quartiles, quintiles and deciles.

The map is the widely used R x F grid (docs/segments.md draws it), with the old grid's
"hibernating" corner split so that "lost" is the customers with the worst recency.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FREQUENCY_SEGMENTS",
    "GRID_SEGMENTS",
    "RFM_RULES",
    "RFM_SEGMENTS",
    "SEGMENT_NAMES",
    "SegmentRule",
    "rfm_segment",
    "to_five",
]


@dataclass(frozen=True)
class SegmentRule:
    """Customers whose five-point R and F scores lie in these inclusive ranges."""

    name: str
    recency: tuple[int, int]
    frequency: tuple[int, int]

    def covers(self, r: int, f: int) -> bool:
        """Whether a customer with five-point scores ``r`` and ``f`` matches this rule."""
        return (
            self.recency[0] <= r <= self.recency[1] and self.frequency[0] <= f <= self.frequency[1]
        )


RFM_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("champions", (5, 5), (4, 5)),
    SegmentRule("loyal", (3, 4), (4, 5)),
    SegmentRule("potential_loyalists", (4, 5), (2, 3)),
    SegmentRule("new", (5, 5), (1, 1)),
    SegmentRule("promising", (4, 4), (1, 1)),
    SegmentRule("need_attention", (3, 3), (3, 3)),
    SegmentRule("about_to_sleep", (3, 3), (1, 2)),
    SegmentRule("cant_lose_them", (1, 2), (5, 5)),
    SegmentRule("at_risk", (1, 2), (3, 4)),
    SegmentRule("hibernating", (2, 2), (1, 2)),
    SegmentRule("lost", (1, 1), (1, 2)),
)
"""The RFM rule table, first match wins (see the module docstring)."""

RFM_SEGMENTS: tuple[str, ...] = tuple(rule.name for rule in RFM_RULES)
"""The RFM segment names, best customers first."""

FREQUENCY_SEGMENTS: tuple[str, ...] = ("frequent", "occasional", "one_time")
"""The purchase-frequency segment names."""

GRID_SEGMENTS: tuple[str, ...] = tuple(
    f"{value}_value_{risk}_risk"
    for value in ("high", "medium", "low")
    for risk in ("high", "medium", "low")
)
"""The value x risk grid's cells: CLV tier x churn risk band."""

SEGMENT_NAMES: dict[str, tuple[str, ...]] = {
    "rfm": RFM_SEGMENTS,
    "frequency": FREQUENCY_SEGMENTS,
    "value_risk": GRID_SEGMENTS,
}
"""Each scheme's segment names (each has a label in the ``segments`` catalog)."""


def to_five(score: int, bins: int) -> int:
    """A score in ``1..bins`` on the five-point scale: ``ceil(score * 5 / bins)``."""
    return (score * 5 + bins - 1) // bins


def rfm_segment(r: int, f: int) -> str:
    """The segment of five-point scores ``r`` and ``f`` (the first rule that covers them)."""
    for rule in RFM_RULES:
        if rule.covers(r, f):
            return rule.name
    raise ValueError(f"no RFM rule covers R={r}, F={f}")
