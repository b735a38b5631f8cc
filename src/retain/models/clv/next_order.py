"""The next expected order of each non-contractual customer, from the fitted purchase model.

Per customer: the probability of at least one order in the next 30, 60 and 90 days
(:meth:`~retain.models.clv.BetaGeoModel.probability_of_purchase`, which folds in P(alive)), and
the date of the next order, ``as_of`` plus the median waiting time of a customer still active
(:meth:`~retain.models.clv.BetaGeoModel.median_time_to_next_purchase`). Where the customer is
more likely gone than active (P(alive) below :data:`UNLIKELY_BELOW`) the date is left empty: a
date would promise an order the model does not expect, and the customer 360 says "unlikely".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retain.models.clv.rfm import UNIT_DAYS

__all__ = ["NEXT_ORDER_COLUMNS", "UNLIKELY_BELOW", "WINDOWS_DAYS", "next_order"]

UNLIKELY_BELOW = 0.5
"""P(alive) under which no next order date is given: the customer is more likely gone."""

WINDOWS_DAYS = (30, 60, 90)
"""The windows, in days after ``as_of``, of the ``probability_order_<N>d`` columns."""

NEXT_ORDER_COLUMNS = (
    *(f"probability_order_{days}d" for days in WINDOWS_DAYS),
    "next_order_at",
)
"""The ``clv_scores`` columns :func:`next_order` fills."""


def next_order(
    purchase_model: Any, rfm: pd.DataFrame, *, as_of: pd.Timestamp, time_unit: str
) -> pd.DataFrame:
    """The next-order columns for each row of ``rfm`` (same order, default index).

    ``purchase_model`` is a fitted :class:`~retain.models.clv.BetaGeoModel` or
    :class:`~retain.models.clv.ParetoNBDModel`; ``rfm`` holds ``frequency``, ``recency`` and
    ``T`` in ``time_unit`` (``day``, ``week`` or ``month``); ``as_of`` is the end of the data
    the summary saw. ``next_order_at`` is a day (midnight, naive UTC) or NaT where unlikely.
    """
    frame = rfm.reset_index(drop=True)
    unit_days = UNIT_DAYS[time_unit]
    out = pd.DataFrame(index=frame.index)
    for days in WINDOWS_DAYS:
        p = purchase_model.probability_of_purchase(days / unit_days, frame).to_numpy()
        out[f"probability_order_{days}d"] = np.clip(p, 0.0, 1.0)
    alive = purchase_model.probability_alive(frame).to_numpy()
    wait_days = purchase_model.median_time_to_next_purchase(frame).to_numpy() * unit_days
    start = pd.Timestamp(as_of)
    if start.tzinfo is not None:
        start = start.tz_convert("UTC").tz_localize(None)
    likely = np.isfinite(wait_days) & (alive >= UNLIKELY_BELOW)
    when = start.floor("D") + pd.to_timedelta(np.where(likely, np.ceil(wait_days), 0), unit="D")
    out["next_order_at"] = pd.Series(when).where(likely)
    return out
