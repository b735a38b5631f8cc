"""Point-in-time features and churn labels (``retain.features``).

:func:`feature_snapshot` computes, inside the warehouse engine, one row of churn features per
customer at risk at a reference date, from data strictly before it; :func:`churn_labels` says who
churned within the horizon after it. Both follow a :class:`retain.config.ChurnDefinition`.
"""

from __future__ import annotations

from retain.features._catalog import CATEGORICAL_FEATURES, FEATURES, Feature, family_of
from retain.features.labels import churn_labels, label_window_complete, population
from retain.features.snapshot import feature_snapshot
from retain.features.sources import SourceLike, Sources

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURES",
    "Feature",
    "SourceLike",
    "Sources",
    "churn_labels",
    "family_of",
    "feature_snapshot",
    "label_window_complete",
    "population",
]
