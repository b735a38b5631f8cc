"""The BG/NBD purchase model as a churn feature (P(alive)) and as a churn baseline.

Both come from :class:`retain.models.clv.BetaGeoModel`, fitted on the customers' purchase history
before the reference date (unsupervised, so it never sees a label). When the CLV models are not
installed the feature and the baseline are left out, and the model card says so.

The baseline's churn probability is the BG/NBD probability of *no purchase* in the next ``H``
days. A BG/NBD customer can only drop out right after a purchase, so with no purchase in the
window there is no dropout either, and

    P(X(H) = 0 | x, t_x, T) = 1 - P(alive) + P(alive) * ((alpha + T) / (alpha + T + H)) ** (r + x)

(Fader, Hardie & Lee 2005: the Poisson-gamma posterior of the purchase rate of a live customer).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["bgnbd_available", "bgnbd_scores"]

_WEEK = 7.0


def _model_class() -> Any:
    try:
        from retain.models.clv import BetaGeoModel
    except ImportError:
        try:
            from retain.models.clv.bgnbd import BetaGeoModel
        except ImportError:
            return None
    return BetaGeoModel


def bgnbd_available() -> bool:
    """Whether the BG/NBD model can be imported."""
    return _model_class() is not None


def _rfm(features: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD inputs in weeks from snapshot columns: x = repeat orders, t_x, T."""
    n = features["orders_total"].fillna(0.0).to_numpy()
    first = features["days_since_first_order"].to_numpy(dtype=np.float64)
    last = features["days_since_last_order"].to_numpy(dtype=np.float64)
    x = np.maximum(n - 1.0, 0.0)
    T = np.nan_to_num(first, nan=0.0) / _WEEK
    tx = np.where(x > 0, np.nan_to_num(first - last, nan=0.0) / _WEEK, 0.0)
    return pd.DataFrame(
        {"frequency": x, "recency": np.minimum(tx, T), "T": T}, index=features.index
    )


def bgnbd_scores(features: pd.DataFrame, *, horizon_days: float) -> pd.DataFrame | None:
    """``p_alive`` and ``p_no_purchase`` (over ``horizon_days``) for customers with an order.

    Returns ``None`` when the model is not available, the orders columns are absent, or the fit
    fails (too few repeat buyers); rows without an order get NaN.
    """
    model_class = _model_class()
    needed = {"orders_total", "days_since_first_order", "days_since_last_order"}
    if model_class is None or not needed <= set(features.columns):
        return None
    buyers = features["orders_total"].fillna(0.0).to_numpy() > 0
    buyers &= features["days_since_first_order"].notna().to_numpy()
    out = pd.DataFrame(
        {"p_alive": np.nan, "p_no_purchase": np.nan}, index=features.index, dtype=np.float64
    )
    rfm = _rfm(features.loc[buyers])
    if len(rfm) < 50 or (rfm["frequency"] > 0).sum() < 10:
        return None
    rfm = rfm[rfm["T"] > 0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = model_class().fit(rfm)
            alive = np.asarray(model.probability_alive(rfm), dtype=np.float64)
    except Exception:
        return None
    r, alpha = float(model.params_["r"]), float(model.params_["alpha"])
    h = horizon_days / _WEEK
    x, T = rfm["frequency"].to_numpy(), rfm["T"].to_numpy()
    quiet = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + h)))
    out.loc[rfm.index, "p_alive"] = alive
    out.loc[rfm.index, "p_no_purchase"] = 1.0 - alive + alive * quiet
    return out
