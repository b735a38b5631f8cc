"""The plan's random holdout: chosen customers who are deliberately not contacted.

Whether a customer is held out is a stable hash of ``(plan id, customer id)``: the same plan
holds out the same customers on every run and on every machine (BLAKE2b, not Python's salted
``hash``), a different plan id draws afresh, and the draw knows nothing about the customer, so
the holdout is a random sample of the chosen customers. Comparing the contacted customers with
the held-out ones later measures what the plan really did.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from retain.models.uplift.halves import stable_draw

__all__ = ["holdout_draw", "holdout_mask"]


def holdout_draw(plan_id: str, customer_ids: Iterable[str]) -> npt.NDArray[np.float64]:
    """A uniform number in [0, 1) per customer, fixed by ``(plan_id, customer_id)``."""
    return stable_draw(plan_id, customer_ids)


def holdout_mask(plan_id: str, customer_ids: Iterable[str], share: float) -> npt.NDArray[np.bool_]:
    """True for the customers ``plan_id`` holds out: a stable random ``share`` of them."""
    return holdout_draw(plan_id, customer_ids) < share
