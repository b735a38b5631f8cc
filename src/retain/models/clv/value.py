"""Customer lifetime value: discounted expected margin over a horizon, per customer.

``CLV = sum over months i = 1..H of margin * E[spend] * (E[Y(i)] - E[Y(i-1)]) / (1 + d_m)^i``

where ``E[Y(t)]`` is the purchase model's conditional expectation of purchases in the next
``t`` months, ``E[spend]`` the Gamma-Gamma expected spend per purchase, and ``d_m`` the monthly
rate equivalent to the configured annual discount rate, ``(1 + d)^(1/12) - 1``. Margin, currency,
horizon and time unit default to ``settings.clv``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retain.config import ClvSettings
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.models.clv.bgnbd import BetaGeoModel
from retain.models.clv.gamma_gamma import GammaGammaModel
from retain.models.clv.next_order import NEXT_ORDER_COLUMNS
from retain.models.clv.pareto_nbd import ParetoNBDModel
from retain.models.clv.rfm import UNIT_DAYS

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = ["customer_lifetime_value", "monthly_discount_rate"]

_MONTH_DAYS = 365.25 / 12


def monthly_discount_rate(annual_rate: float) -> float:
    """The monthly rate that compounds to ``annual_rate`` over twelve months."""
    return float((1.0 + annual_rate) ** (1.0 / 12.0) - 1.0)


def customer_lifetime_value(
    purchase_model: BetaGeoModel | ParetoNBDModel,
    spend_model: GammaGammaModel,
    rfm: Any,
    *,
    horizon_months: int | None = None,
    margin: float | None = None,
    annual_discount_rate: float | None = None,
    time_unit: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Expected discounted margin of each customer over the next ``horizon_months``.

    Parameters
    ----------
    purchase_model
        A fitted :class:`BetaGeoModel` or :class:`ParetoNBDModel` (continuous time).
    spend_model
        A fitted :class:`GammaGammaModel`.
    rfm
        Customers to score: ``frequency``, ``recency``, ``T``, ``monetary_value`` (and
        ``customer_id``), e.g. the output of :func:`rfm_summary`, as a frame or Ibis table.
    horizon_months, margin, annual_discount_rate, time_unit
        Override ``settings.clv``. ``time_unit`` is the unit of recency and T in ``rfm``.
    settings
        Where defaults come from (:func:`retain.config.get_settings` when omitted).

    Returns
    -------
    pandas.DataFrame
        One row per customer: the inputs, ``probability_alive``, ``expected_purchases`` over
        the horizon, ``expected_spend`` per purchase and ``clv`` (in currency).
    """
    if not isinstance(purchase_model, BetaGeoModel | ParetoNBDModel):
        raise InvalidParameterError(
            t("clv.purchase_model_invalid", kind=type(purchase_model).__name__),
            hint=t("clv.purchase_model_invalid_hint"),
        )
    if settings is None and None in (horizon_months, margin, annual_discount_rate, time_unit):
        from retain.config import get_settings

        settings = get_settings()
    conf = settings.clv if settings is not None else ClvSettings()
    horizon = int(horizon_months if horizon_months is not None else conf.horizon_months)
    mgn = float(margin if margin is not None else conf.margin)
    rate = float(
        annual_discount_rate if annual_discount_rate is not None else conf.annual_discount_rate
    )
    unit = str(time_unit if time_unit is not None else conf.time_unit)
    if horizon <= 0:
        raise InvalidParameterError(
            t("clv.horizon_invalid", value=horizon), hint=t("clv.horizon_invalid_hint")
        )
    if not 0 < mgn <= 1:
        raise InvalidParameterError(
            t("clv.margin_invalid", value=mgn), hint=t("clv.margin_invalid_hint")
        )
    if unit not in UNIT_DAYS:
        raise InvalidParameterError(
            t("clv.unit_invalid", value=repr(unit), options="'day', 'week', 'month'"),
            hint=t("clv.unit_invalid_hint"),
        )
    if type(rfm).__module__.startswith("ibis."):
        keep = [
            c
            for c in ("customer_id", "frequency", "recency", "T", "monetary_value")
            if c in rfm.columns
        ]
        rfm = rfm.select(keep).to_pandas()
    elif type(rfm).__module__.startswith("polars"):
        rfm = rfm.to_pandas()
    frame = rfm.reset_index(drop=True)
    month = _MONTH_DAYS / UNIT_DAYS[unit]
    spend = spend_model.expected_customer_spend(frame).to_numpy()
    alive = purchase_model.probability_alive(frame).to_numpy()
    d_m = monthly_discount_rate(rate)
    previous = np.zeros(len(frame))
    clv = np.zeros(len(frame))
    for i in range(1, horizon + 1):
        cumulative = purchase_model.conditional_expected_purchases(i * month, frame).to_numpy()
        clv += mgn * spend * (cumulative - previous) / (1.0 + d_m) ** i
        previous = cumulative
    out = pd.DataFrame(
        {
            "frequency": frame["frequency"].to_numpy(dtype=float),
            "recency": frame["recency"].to_numpy(dtype=float),
            "T": frame["T"].to_numpy(dtype=float),
            "monetary_value": frame["monetary_value"].to_numpy(dtype=float),
            "probability_alive": alive,
            "expected_purchases": previous,
            "expected_spend": spend,
            "clv": clv,
        }
    )
    if "customer_id" in frame.columns:
        out.insert(0, "customer_id", frame["customer_id"].astype(str).to_numpy())
    return out


def scores_frame(
    values: pd.DataFrame,
    *,
    as_of: dt.datetime | pd.Timestamp,
    model_version: str,
    currency: str,
    horizon_months: int,
) -> pd.DataFrame:
    """:func:`customer_lifetime_value` output shaped as the ``clv_scores`` table.

    The next-order columns (:func:`~retain.models.clv.next_order.next_order`) are kept when
    ``values`` has them; a ``currency`` column in ``values`` (subscriptions billed in their own
    currency) is kept, ``currency`` filling its gaps; a column ``values`` lacks (a subscriber's
    purchase summary) is left empty.
    """
    frame = values.copy()
    for name in ("frequency", "recency", "T", "monetary_value"):
        if name not in frame:
            frame[name] = np.nan
    frame["as_of"] = (
        pd.Timestamp(as_of).tz_localize(None)
        if pd.Timestamp(as_of).tzinfo is None
        else pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None)
    )
    frame["model_version"] = model_version
    frame["currency"] = frame["currency"].fillna(currency) if "currency" in frame else currency
    frame["horizon_months"] = int(horizon_months)
    columns = [
        "customer_id",
        "as_of",
        "model_version",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "probability_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
        "currency",
        "horizon_months",
    ]
    return frame[columns + [c for c in NEXT_ORDER_COLUMNS if c in frame.columns]]
