"""The offer the hosted cancellation page makes: the save desk's plan, once per warehouse state.

The planning itself (the cancellation line, the ``[savedesk]`` budget, stored uplift, the cache
on warehouse generation and fingerprint) lives in :mod:`retain.voice.offer_plan`, where the
save desk's intake from the command line plans too; this is the service's handle on it,
``app.state.voice_offer_source``, keyed by the request's :class:`~retain.app.deps.Warehouse`
generation (which counts the service's writes, as the at-risk list's cached frames do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retain.config import Settings
from retain.voice.offer_plan import PlanCache, cancellation_line, cancellation_plan

if TYPE_CHECKING:
    from retain.app.deps import LockedWarehouse
    from retain.targeting.offers import OfferPlan
    from retain.voice.cancel import PlanOffers

__all__ = ["ServiceOffers", "cancellation_line", "service_plan"]

service_plan = cancellation_plan
"""The plan for the cancellation line: :func:`retain.voice.offer_plan.cancellation_plan`."""


class ServiceOffers:
    """``app.state.voice_offer_source``: the plan's offers, computed once per warehouse state.

    :meth:`for_warehouse` answers a :class:`retain.voice.cancel.PlanOffers` for the request's
    warehouse, :meth:`plan_for` the plan itself (the save desk's intake without a budget);
    :attr:`plans` counts the plans computed (what the tests watch).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache = PlanCache(settings)

    @property
    def plans(self) -> int:
        """Plans computed so far."""
        return self._cache.plans

    def for_warehouse(self, warehouse: LockedWarehouse) -> PlanOffers:
        """The offers of the plan for ``warehouse``'s generation (planned again only if needed)."""
        return self._cache.current(warehouse.con, warehouse.generation)[1]

    def plan_for(self, warehouse: LockedWarehouse) -> OfferPlan | None:
        """The plan itself for ``warehouse``'s generation (None while nobody is scored)."""
        return self._cache.current(warehouse.con, warehouse.generation)[0]
