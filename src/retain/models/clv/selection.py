"""Choose the purchase model by holdout fit: BG/NBD or Pareto/NBD, and record why.

The two differ most on one-time buyers: BG/NBD lets a customer drop out only right after a
repeat purchase, so every one-time buyer has P(alive) = 100 %; Pareto/NBD lets anyone drop out
at any time, so a one-time buyer's P(alive) falls with the time since that purchase. Which one
describes a business is an empirical question, answered here the way Fader, Hardie & Lee (2005)
validate a model: fit on a calibration window, predict each customer's purchases in the holdout
window that follows, and keep the smaller mean absolute error. A degenerate fit is not chosen
while the other one is sound; within one percent, BG/NBD (the faster one) wins.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from retain.i18n import t
from retain.models.clv.bgnbd import BetaGeoModel
from retain.models.clv.checks import LABELS, captured, degenerate_params
from retain.models.clv.diagnostics import holdout_metrics, holdout_predictions
from retain.models.clv.pareto_nbd import ParetoNBDModel
from retain.models.clv.rfm import TimeUnit, rfm_summary

__all__ = ["CANDIDATES", "choose_purchase_model", "holdout_window"]

CANDIDATES: dict[str, type[BetaGeoModel] | type[ParetoNBDModel]] = {
    "bgnbd": BetaGeoModel,
    "pareto_nbd": ParetoNBDModel,
}
TIE = 0.01
"""Relative MAE difference under which the simpler model (BG/NBD) is kept."""


def holdout_window(first: pd.Timestamp, last: pd.Timestamp) -> pd.Timestamp:
    """The calibration end: the last third of the order history is held out (at least 28 days)."""
    span = (last - first).days
    held = max(28, span // 3)
    return (last - pd.Timedelta(days=held)).floor("D")


def choose_purchase_model(
    orders: Any, *, as_of: pd.Timestamp, time_unit: TimeUnit, notes: list[str]
) -> tuple[str, dict[str, Any]]:
    """The purchase model with the smaller holdout MAE, and the record of the choice.

    The record holds the window, each candidate's holdout MAE, parameters and degenerate
    parameters, the choice and the reason (a sentence in the active language).
    """
    first = pd.Timestamp(orders.ordered_at.min().execute()).floor("D")
    cut = holdout_window(first, as_of)
    summary = rfm_summary(orders, calibration_end=cut, holdout_end=as_of, time_unit=time_unit)
    frame = summary.to_pandas()
    results: dict[str, dict[str, Any]] = {}
    for kind, cls in CANDIDATES.items():
        label = LABELS[cls.__name__]
        try:
            with captured(notes, label):
                model = cls().fit(frame)
        except Exception as exc:  # a failed candidate is reported, not fatal
            results[kind] = {"model": label, "error": str(exc)}
            continue
        metrics = holdout_metrics(holdout_predictions(model, frame))
        row = metrics[(metrics["quantity"] == "purchases") & (metrics["method"] == "model")]
        results[kind] = {
            "model": label,
            "mae": float(row["mae"].iloc[0]),
            "params": dict(model.params_),
            "degenerate": degenerate_params(model),
        }
    usable = {k: v for k, v in results.items() if "mae" in v}
    sound = {k: v for k, v in usable.items() if not v["degenerate"]} or usable
    if not sound:
        return "bgnbd", {"calibration_end": cut.isoformat(), "candidates": results}
    best = min(sound, key=lambda k: sound[k]["mae"])
    if "bgnbd" in sound and sound["bgnbd"]["mae"] <= sound[best]["mae"] * (1 + TIE):
        best = "bgnbd"
    other = next((k for k in results if k != best), None)
    if other is None or "mae" not in results[other]:
        reason = t("clv.choice_only", model=results[best]["model"])
    elif results[other]["degenerate"] and other not in sound:
        reason = t(
            "clv.choice_degenerate",
            model=results[best]["model"],
            other=results[other]["model"],
            params=", ".join(results[other]["degenerate"]),
        )
    else:
        reason = t(
            "clv.choice_mae",
            model=results[best]["model"],
            mae=f"{results[best]['mae']:.3f}",
            other=results[other]["model"],
            other_mae=f"{results[other]['mae']:.3f}",
        )
    if best == "bgnbd":
        reason += " " + t("clv.choice_bgnbd_alive")
    record = {
        "calibration_end": cut.isoformat(),
        "holdout_end": as_of.isoformat(),
        "candidates": results,
        "chosen": best,
        "reason": reason,
    }
    return best, record
