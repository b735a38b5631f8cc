"""Customer segments: RFM, purchase frequency and the value x risk grid, with their movement.

- :mod:`~retain.targeting.segments.rules`: the segment names and the declarative RFM rule table.
- :mod:`~retain.targeting.segments.rfm`: RFM scores and segments and purchase-frequency segments,
  computed in the engine from completed orders (DuckDB, PostgreSQL and Spark alike).
- :mod:`~retain.targeting.segments.grid`: CLV tiers x churn risk bands from the latest scores.
- :mod:`~retain.targeting.segments.sources`: acquisition-source quality (retention, CLV and
  discount dependence by acquisition channel and by first-order discount).
- :mod:`~retain.targeting.segments.store`: memberships stored with their date, the movement
  matrix between two dates and the customers of one transition.

docs/segments.md explains each segment and the commands (``retain segments ...``).
"""

from retain.targeting.segments.grid import value_risk_grid
from retain.targeting.segments.rfm import FrequencyThresholds, frequency_segments, rfm_scores
from retain.targeting.segments.rules import (
    FREQUENCY_SEGMENTS,
    GRID_SEGMENTS,
    RFM_RULES,
    RFM_SEGMENTS,
    SEGMENT_NAMES,
    SegmentRule,
    rfm_segment,
    to_five,
)
from retain.targeting.segments.sources import (
    DISCOUNT_TIERS,
    SOURCE_DIMENSIONS,
    SourceDimension,
    default_as_of,
    segment_label,
    source_label,
    source_quality,
)
from retain.targeting.segments.store import (
    MEMBERSHIPS,
    check_segment,
    membership_dates,
    memberships,
    movement_matrix,
    movers,
    require_stored,
    store_memberships,
)

__all__ = [
    "DISCOUNT_TIERS",
    "FREQUENCY_SEGMENTS",
    "GRID_SEGMENTS",
    "MEMBERSHIPS",
    "RFM_RULES",
    "RFM_SEGMENTS",
    "SEGMENT_NAMES",
    "SOURCE_DIMENSIONS",
    "FrequencyThresholds",
    "SegmentRule",
    "SourceDimension",
    "check_segment",
    "default_as_of",
    "frequency_segments",
    "membership_dates",
    "memberships",
    "movement_matrix",
    "movers",
    "require_stored",
    "rfm_scores",
    "rfm_segment",
    "segment_label",
    "source_label",
    "source_quality",
    "store_memberships",
    "to_five",
    "value_risk_grid",
]
