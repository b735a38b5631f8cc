"""Uplift for a plan, split so that the estimates that choose never value the plan.

The implementation lives in :mod:`retain.models.uplift.halves`, so that the stored scoring
(``uplift_scores``, :mod:`retain.models.uplift.scores`) and a plan learned from a campaign on the
spot (:func:`retain.targeting.offers.campaign_uplift`) value customers the same way: by the
uplift the campaign measured for their score group on the half their choosing model never saw,
with that measurement's variance (docs/offers.md, "Honest profit"). Re-exported here, where the
planner's users have always found it.
"""

from __future__ import annotations

from retain.models.uplift.halves import GROUP_EDGES, GroupEffects, group_effects, uplift_by_halves

__all__ = ["GROUP_EDGES", "GroupEffects", "group_effects", "uplift_by_halves"]
