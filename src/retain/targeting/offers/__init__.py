"""The offer planner: with this budget, whom to give what, what it should earn, and who not.

- :mod:`~retain.targeting.offers.plan`: :func:`plan_offers` and the :class:`OfferPlan` it
  returns (targets with reasons, the customers left out and why, honest totals, the what-if).
- :mod:`~retain.targeting.offers.optimize`: who gets what under the budget and capacities
  (exact for tiny plans, else the better of a ranked walk and
  :mod:`~retain.targeting.offers.relax`, a Lagrangian relaxation with a certified bound).
- :mod:`~retain.targeting.offers.holdout`: the plan's stable random holdout.
- :mod:`~retain.targeting.offers.honest`: uplift from a past campaign, split so the estimates
  that choose never value the plan.
- :mod:`~retain.targeting.offers.load`: the customers in scope, read from the warehouse.
- :mod:`~retain.targeting.offers.render`: the summary lines every output prints.

Uplift comes in as a frame of :data:`UPLIFT_COLUMNS` (``retain.models.uplift``'s out-of-fold
estimates), optionally with :data:`ERROR_COLUMNS` (each valuation's measured group and variance,
from :func:`uplift_by_halves`), which give the plan's profit its 95 % interval; without uplift
the plan uses a documented heuristic and says so. docs/offers.md.
"""

from retain.targeting.offers.holdout import holdout_draw, holdout_mask
from retain.targeting.offers.honest import uplift_by_halves
from retain.targeting.offers.load import (
    campaign_uplift,
    plan_from_warehouse,
    planning_customers,
    segment_scheme,
)
from retain.targeting.offers.optimize import LEFT_OUT_REASONS, Choice, choose
from retain.targeting.offers.plan import (
    CUSTOMER_COLUMNS,
    ERROR_COLUMNS,
    UPLIFT_COLUMNS,
    ActionSummary,
    OfferPlan,
    PlanSummary,
    heuristic_uplift,
    plan_offers,
)
from retain.targeting.offers.render import reason_label, source_note, summary_lines

__all__ = [
    "CUSTOMER_COLUMNS",
    "ERROR_COLUMNS",
    "LEFT_OUT_REASONS",
    "UPLIFT_COLUMNS",
    "ActionSummary",
    "Choice",
    "OfferPlan",
    "PlanSummary",
    "campaign_uplift",
    "choose",
    "heuristic_uplift",
    "holdout_draw",
    "holdout_mask",
    "plan_from_warehouse",
    "plan_offers",
    "planning_customers",
    "reason_label",
    "segment_scheme",
    "source_note",
    "summary_lines",
    "uplift_by_halves",
]
