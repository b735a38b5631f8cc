"""Customer segments: RFM, purchase frequency and the value x risk grid, with their movement.

- :mod:`~retain.targeting.segments.rules`: the segment names and the declarative RFM rule table.
- :mod:`~retain.targeting.segments.rfm`: RFM scores and segments and purchase-frequency segments,
  computed in the engine from completed orders (DuckDB, PostgreSQL and Spark alike).
- :mod:`~retain.targeting.segments.grid`: CLV tiers x churn risk bands from the latest scores.
- :mod:`~retain.targeting.segments.sources`: acquisition-source quality (retention, CLV and
  discount dependence by acquisition channel and by first-order discount).
- :mod:`~retain.targeting.segments.store`: memberships stored with their date, the movement
  matrix between two dates and the customers of one transition.
- :mod:`~retain.targeting.segments.builder`: the segment builder's typed rule model (all, any,
  not, comparisons, event counts, saved segments), read from JSON and checked with its path.
- :mod:`~retain.targeting.segments.fields`: the fields a rule may name (customer columns,
  attributes, scores, CLV, churn features, stored memberships).
- :mod:`~retain.targeting.segments.saved`: a saved segment's members and size whichever form it
  was saved in (imported from its module: it imports the at-risk list).
- :mod:`~retain.targeting.segments.evaluate`: a rule compiled to one Ibis query and evaluated
  point in time; its size at month ends.

docs/segments.md explains each segment and the commands (``retain segments ...``).
"""

from retain.targeting.segments.builder import (
    FIELDS,
    OPERATORS,
    AllOf,
    AnyOf,
    Condition,
    EventCount,
    FieldSpec,
    Not,
    Rule,
    SavedRef,
    expand,
    field_spec,
    parse_rule,
    rule_to_dict,
    rule_to_json,
    saved_refs,
)
from retain.targeting.segments.evaluate import (
    month_ends,
    segment_members,
    segment_size,
    size_history,
)
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
    "FIELDS",
    "FREQUENCY_SEGMENTS",
    "GRID_SEGMENTS",
    "MEMBERSHIPS",
    "OPERATORS",
    "RFM_RULES",
    "RFM_SEGMENTS",
    "SEGMENT_NAMES",
    "SOURCE_DIMENSIONS",
    "AllOf",
    "AnyOf",
    "Condition",
    "EventCount",
    "FieldSpec",
    "FrequencyThresholds",
    "Not",
    "Rule",
    "SavedRef",
    "SegmentRule",
    "SourceDimension",
    "check_segment",
    "default_as_of",
    "expand",
    "field_spec",
    "frequency_segments",
    "membership_dates",
    "memberships",
    "month_ends",
    "movement_matrix",
    "movers",
    "parse_rule",
    "require_stored",
    "rfm_scores",
    "rfm_segment",
    "rule_to_dict",
    "rule_to_json",
    "saved_refs",
    "segment_label",
    "segment_members",
    "segment_size",
    "size_history",
    "source_label",
    "source_quality",
    "store_memberships",
    "to_five",
    "value_risk_grid",
]
