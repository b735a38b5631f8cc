"""The save desk's offer plan: one plan for the cancellation page, the API's intake and the CLI.

The hosted cancellation page offers what the offer planner recommends for the customer (issue
#20: "the offer comes from the planner"), and the save desk's intake gives each case the same
action, whether it runs from ``POST /api/v1/savedesk/intake``, the dashboard's **Route open
cases** button or ``retain savedesk intake``. All of them plan here:

- :func:`cancellation_plan`: the first contractual business line's scored customers
  (cancellations are subscriptions; without a contractual line, the first line), the configured
  ``[[offers.actions]]``, the uplift stored in ``uplift_scores`` (else the planner's heuristic)
  and the ``[savedesk]`` budget (:func:`plan_budget`: ``budget`` in money, or ``budget_share``
  of those customers' value at risk, 5 % by default);
- :func:`intake_plan`: that plan, or, with an explicit budget, the plan ``retain plan
  --budget`` (and ``GET /api/v1/plan``) makes for that budget;
- :class:`PlanCache`: the service's copy, computed once per warehouse generation (the service
  counts its writes) and, on a new generation, only if a cheap fingerprint of what the plan
  reads (rows and newest scoring of the churn, CLV and uplift scores) changed.

Without scores there is no plan (None) and each reason's fallback decides (``offer_basis``
``no_plan``).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from retain import warehouse as wh
from retain.config import ChurnDefinition, Settings
from retain.errors import RetainError
from retain.models.uplift.scores import stored_uplift
from retain.targeting.offers import OfferPlan, plan_from_warehouse, plan_offers, planning_customers
from retain.voice.cancel import PlanOffers
from retain.voice.savedesk import planned_offers

if TYPE_CHECKING:
    import pandas as pd
    from ibis.backends import BaseBackend

    from retain.config import SaveDeskSettings

__all__ = [
    "PlanCache",
    "cancellation_line",
    "cancellation_plan",
    "intake_offers",
    "intake_plan",
    "plan_budget",
    "plan_fingerprint",
]

log = logging.getLogger(__name__)

#: The tables a plan reads, with the column whose newest value marks a new scoring.
_INPUTS = (("churn_scores", "scored_at"), ("clv_scores", "as_of"), ("uplift_scores", "scored_at"))
_RATES = "exchange_rates"
"""Where the CLV's currencies are converted into the reporting currency (also read)."""


def cancellation_line(settings: Settings) -> ChurnDefinition:
    """The business line cancellations belong to: the first contractual one, else the first."""
    return next((d for d in settings.churn if d.kind == "contractual"), settings.churn_definition())


def plan_budget(customers: pd.DataFrame, desk: SaveDeskSettings) -> float:
    """``[savedesk] budget`` when set, else ``budget_share`` of ``customers``' value at risk."""
    if desk.budget > 0:
        return desk.budget
    return desk.budget_share * float((customers["churn_probability"] * customers["clv"]).sum())


def cancellation_plan(con: BaseBackend, settings: Settings) -> OfferPlan | None:
    """The save desk's plan for the cancellation line, or None while nobody in it is scored."""
    if not wh.table_exists(con, "churn_scores"):
        return None
    customers = planning_customers(con, definition=cancellation_line(settings).name)
    if customers.empty:
        return None
    stored = stored_uplift(con)
    return plan_offers(
        customers,
        budget=plan_budget(customers, settings.savedesk),
        settings=settings.offers,
        uplift=None if stored is None else stored.frame,
        source=None if stored is None else stored.label(),
        unmeasured=() if stored is None else stored.unmeasured,
    )


def _plan_or_none(con: BaseBackend, settings: Settings) -> OfferPlan | None:
    """:func:`cancellation_plan`, or None when it cannot be made (the fallback then decides)."""
    try:
        return cancellation_plan(con, settings)
    except RetainError as err:  # e.g. scores without CLV: no plan
        log.info("no offer plan for the save desk: %s", err.message)
        return None


def intake_plan(
    con: BaseBackend,
    settings: Settings,
    *,
    budget: float | None = None,
    definition: str | None = None,
) -> OfferPlan | None:
    """The plan the save desk's intake gives new and fallback cases.

    Without ``budget``: :func:`cancellation_plan` (None when it cannot be made). With one: the
    plan ``retain plan --budget`` makes for line ``definition`` (default the first line), where
    nobody scored is an error.
    """
    if budget is None:
        return _plan_or_none(con, settings)
    line = settings.churn_definition(definition)
    return plan_from_warehouse(con, budget=budget, definition=line.name, settings=settings.offers)


def intake_offers(
    con: BaseBackend,
    settings: Settings,
    *,
    budget: float | None = None,
    definition: str | None = None,
) -> dict[str, str]:
    """Each targeted customer's planned action for the intake (:func:`intake_plan`)."""
    plan = intake_plan(con, settings, budget=budget, definition=definition)
    return planned_offers(plan) if plan is not None else {}


def plan_fingerprint(con: BaseBackend) -> tuple[Any, ...]:
    """Rows and newest scoring of each table the plan reads (None for a missing table).

    And the exchange rates the CLV is converted with (rows, newest, the rates' sum, so a
    corrected rate counts): loading them changes every CLV the plan reads, and its budget,
    while no score table changes.
    """
    marks: list[Any] = []
    for name, column in _INPUTS:
        if not wh.table_exists(con, name):
            marks.append(None)
            continue
        table = con.table(name)
        row = table.aggregate(rows=table.count(), newest=table[column].max()).to_pandas()
        marks.append((int(row["rows"].iloc[0]), str(row["newest"].iloc[0])))
    if wh.table_exists(con, _RATES):
        rates = con.table(_RATES)
        row = rates.aggregate(
            rows=rates.count(), newest=rates.valid_from.max(), total=rates.rate.sum()
        ).to_pandas()
        marks.append(tuple(str(row[c].iloc[0]) for c in ("rows", "newest", "total")))
    else:
        marks.append(None)
    return tuple(marks)


class PlanCache:
    """:func:`cancellation_plan` and its page offers, computed once per warehouse state.

    :meth:`current` answers for a warehouse generation (a counter its owner raises on every
    write); a new generation plans again only when :func:`plan_fingerprint` changed.
    :attr:`plans` counts the plans computed (what the tests watch).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.plans = 0
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._fingerprint: tuple[Any, ...] | None = None
        self._plan: OfferPlan | None = None
        self._offers = PlanOffers()

    def current(self, con: BaseBackend, generation: int) -> tuple[OfferPlan | None, PlanOffers]:
        """The plan and its offers for ``generation`` of ``con`` (planned again only if needed).

        A failure leaves no plan for this call (the fallback decides) and retries on the next.
        """
        with self._lock:
            if self._generation == generation:
                return self._plan, self._offers
            try:
                mark = plan_fingerprint(con)
                if mark != self._fingerprint:
                    self._plan, self._offers = self._make(con)
                    self._fingerprint = mark
                self._generation = generation
            except Exception:  # the page still makes the fallback offer; the next view retries
                log.warning("no offer plan for the save desk", exc_info=True)
                return None, PlanOffers()
            return self._plan, self._offers

    def _make(self, con: BaseBackend) -> tuple[OfferPlan | None, PlanOffers]:
        self.plans += 1
        plan = _plan_or_none(con, self.settings)
        if plan is None:
            return None, PlanOffers()
        kinds = {a.name: a.kind for a in self.settings.offers.candidate_actions()}
        return plan, PlanOffers.from_plan(plan, kinds)
