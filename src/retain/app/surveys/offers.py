"""The offer the hosted cancellation page makes: the service's plan, read once per warehouse state.

The page offers what the offer planner recommends for the customer (issue #20: "the offer comes
from the planner"). The service plans like the report does, having no budget to ask for: the
first contractual business line's scored customers (cancellations are subscriptions; without a
contractual line, the first line), the configured ``[[offers.actions]]``, the uplift stored in
``uplift_scores`` (else the planner's heuristic), and a budget of
:data:`retain.report.offers.BUDGET_SHARE` of those customers' value at risk.

The plan is computed once per warehouse generation (:attr:`retain.app.deps.Warehouse.generation`
counts the service's writes, as the at-risk list's cached frames do), not per page view. As
every ``POST`` that appends an interaction is a write, a new generation first compares a cheap
fingerprint of what the plan reads (the churn, CLV and uplift scores: rows and newest scoring);
unchanged, the plan is kept. Without scores there is no plan and the fallback decides
(``offer_basis`` ``no_plan``).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from retain import warehouse as wh
from retain.config import ChurnDefinition, Settings
from retain.errors import RetainError
from retain.models.uplift.scores import stored_uplift
from retain.report.offers import BUDGET_SHARE
from retain.targeting.offers import OfferPlan, plan_offers, planning_customers
from retain.voice.cancel import PlanOffers

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.app.deps import LockedWarehouse

__all__ = ["ServiceOffers", "cancellation_line", "service_plan"]

log = logging.getLogger(__name__)

#: The tables a plan reads, with the column whose newest value marks a new scoring.
_INPUTS = (("churn_scores", "scored_at"), ("clv_scores", "as_of"), ("uplift_scores", "scored_at"))


def cancellation_line(settings: Settings) -> ChurnDefinition:
    """The business line cancellations belong to: the first contractual one, else the first."""
    return next((d for d in settings.churn if d.kind == "contractual"), settings.churn_definition())


def service_plan(con: BaseBackend, settings: Settings) -> OfferPlan | None:
    """The service's plan for the cancellation line, or None while nobody in it is scored."""
    if not wh.table_exists(con, "churn_scores"):
        return None
    customers = planning_customers(con, definition=cancellation_line(settings).name)
    if customers.empty:
        return None
    budget = BUDGET_SHARE * float((customers["churn_probability"] * customers["clv"]).sum())
    stored = stored_uplift(con)
    return plan_offers(
        customers,
        budget=budget,
        settings=settings.offers,
        uplift=None if stored is None else stored.frame,
        source=None if stored is None else stored.label(),
    )


def _fingerprint(con: BaseBackend) -> tuple[Any, ...]:
    """Rows and newest scoring of each table the plan reads (None for a missing table)."""
    marks: list[Any] = []
    for name, column in _INPUTS:
        if not wh.table_exists(con, name):
            marks.append(None)
            continue
        table = con.table(name)
        row = table.aggregate(rows=table.count(), newest=table[column].max()).to_pandas()
        marks.append((int(row["rows"].iloc[0]), str(row["newest"].iloc[0])))
    return tuple(marks)


class ServiceOffers:
    """``app.state.voice_offer_source``: the plan's offers, computed once per warehouse state.

    :meth:`for_warehouse` answers a :class:`retain.voice.cancel.PlanOffers` for the request's
    warehouse, :meth:`plan_for` the plan itself (the save desk's intake without a budget);
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

    def for_warehouse(self, warehouse: LockedWarehouse) -> PlanOffers:
        """The offers of the plan for ``warehouse``'s generation (planned again only if needed)."""
        return self._current(warehouse)[1]

    def plan_for(self, warehouse: LockedWarehouse) -> OfferPlan | None:
        """The plan itself for ``warehouse``'s generation (None while nobody is scored)."""
        return self._current(warehouse)[0]

    def _current(self, warehouse: LockedWarehouse) -> tuple[OfferPlan | None, PlanOffers]:
        with self._lock:
            if self._generation == warehouse.generation:
                return self._plan, self._offers
            con = warehouse.con
            try:
                mark = _fingerprint(con)
                if mark != self._fingerprint:
                    self._plan, self._offers = self._make(con)
                    self._fingerprint = mark
                self._generation = warehouse.generation
            except Exception:  # the page still makes the fallback offer; the next view retries
                log.warning("no offer plan for the cancellation page", exc_info=True)
                return None, PlanOffers()
            return self._plan, self._offers

    def _make(self, con: BaseBackend) -> tuple[OfferPlan | None, PlanOffers]:
        self.plans += 1
        try:
            plan = service_plan(con, self.settings)
        except RetainError as err:  # e.g. nobody scored in the line: no plan
            log.info("no offer plan for the cancellation page: %s", err.message)
            plan = None
        if plan is None:
            return None, PlanOffers()
        kinds = {a.name: a.kind for a in self.settings.offers.candidate_actions()}
        return plan, PlanOffers.from_plan(plan, kinds)
