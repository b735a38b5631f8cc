"""The three steps a user runs on their own warehouse: fit, score, evaluate.

These are the library functions behind ``retain clv fit | predict | evaluate``: each reads the
``orders`` table, builds the summaries in the engine with :func:`rfm_summary`, fits or loads the
models, and writes results (the model store, the ``clv_scores`` table).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import ibis
import pandas as pd

import retain.warehouse as wh
from retain.errors import DataQualityWarning, NotFoundError
from retain.facts import DateLike, as_timestamp
from retain.features.sources import Sources
from retain.i18n import t
from retain.models.clv.bgnbd import BetaGeoModel
from retain.models.clv.diagnostics import (
    calibration_by_frequency,
    cumulative_tracking,
    holdout_metrics,
    holdout_predictions,
)
from retain.models.clv.gamma_gamma import GammaGammaModel
from retain.models.clv.next_order import next_order
from retain.models.clv.pareto_nbd import ParetoNBDModel
from retain.models.clv.rfm import rfm_summary
from retain.models.clv.store import StoredModels, load_models, save_models, update_meta
from retain.models.clv.value import customer_lifetime_value, scores_frame
from retain.schema import get_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["Evaluation", "evaluate_clv", "fit_clv", "score_clv", "write_scores"]

PurchaseKind = Literal["bgnbd", "pareto_nbd"]
_PURCHASE: dict[str, type[BetaGeoModel] | type[ParetoNBDModel]] = {
    "bgnbd": BetaGeoModel,
    "pareto_nbd": ParetoNBDModel,
}


def _orders(con: BaseBackend) -> Any:
    """The warehouse's orders, completed to the canonical columns (:class:`Sources`)."""
    orders = Sources.of(con).orders
    if orders is None:
        raise NotFoundError(t("clv.no_orders"), hint=t("clv.no_orders_hint"))
    return orders


def _day(value: DateLike | None, con: BaseBackend, name: str = "as_of") -> pd.Timestamp:
    if value is not None:
        return as_timestamp(value, name=name).floor("D")
    orders = _orders(con)
    last = orders.ordered_at.max().execute()
    if last is None or pd.isna(last):
        raise NotFoundError(t("clv.no_orders"), hint=t("clv.no_orders_hint"))
    return pd.Timestamp(last).floor("D")


def _fit_pair(summary: Any, kind: str) -> tuple[Any, GammaGammaModel, list[str]]:
    purchase = _PURCHASE[kind]().fit(summary)
    repeat = (
        summary.filter(summary.frequency > 0)
        if _is_ibis(summary)
        else summary[summary["frequency"] > 0]
    )
    paid = (
        repeat.filter(repeat.monetary_value > 0)
        if _is_ibis(repeat)
        else repeat[repeat["monetary_value"] > 0]
    )
    dropped = (
        int(repeat.count().execute()) - int(paid.count().execute())
        if _is_ibis(repeat)
        else len(repeat) - len(paid)
    )
    notes = [t("clv.zero_spend_dropped", customers=dropped)] if dropped else []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataQualityWarning)
        spend = GammaGammaModel().fit(paid)
    notes += [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]
    return purchase, spend, notes


def _is_ibis(obj: Any) -> bool:
    return type(obj).__module__.startswith("ibis.")


def fit_clv(
    con: BaseBackend,
    *,
    settings: Settings,
    model: PurchaseKind = "bgnbd",
    as_of: DateLike | None = None,
) -> StoredModels:
    """Fit a purchase model and Gamma-Gamma on the warehouse's orders and store them.

    Returns the stored version; ``meta["warnings"]`` lists data-quality warnings (such as
    correlated spend and frequency) so the CLI can show them.
    """
    end = _day(as_of, con)
    summary = rfm_summary(_orders(con), as_of=end, time_unit=settings.clv.time_unit)
    purchase, spend, notes = _fit_pair(summary, model)
    meta = {
        "as_of": end.isoformat(),
        "time_unit": settings.clv.time_unit,
        "model": model,
        "warnings": notes,
    }
    version = save_models({"purchase": purchase, "spend": spend}, settings=settings, meta=meta)
    return StoredModels(version=version, models={"purchase": purchase, "spend": spend}, meta=meta)


def score_clv(
    con: BaseBackend,
    *,
    settings: Settings,
    version: str | None = None,
    as_of: DateLike | None = None,
    horizon_months: int | None = None,
    write: bool = True,
) -> pd.DataFrame:
    """Score every customer with a stored version and (by default) write ``clv_scores``.

    Scores replace earlier rows with the same ``as_of`` and model version, so re-running is
    idempotent.
    """
    stored = load_models(settings, version)
    end = _day(as_of or stored.meta.get("as_of"), con)
    unit = stored.meta.get("time_unit", settings.clv.time_unit)
    summary = rfm_summary(_orders(con), as_of=end, time_unit=unit)
    horizon = horizon_months or settings.clv.horizon_months
    keep = ("customer_id", "frequency", "recency", "T", "monetary_value")
    frame = summary.select(*[c for c in keep if c in summary.columns]).to_pandas()
    values = customer_lifetime_value(
        stored.purchase_model,
        stored.spend_model,
        frame,
        horizon_months=horizon,
        margin=settings.clv.margin,
        annual_discount_rate=settings.clv.annual_discount_rate,
        time_unit=unit,
    )
    upcoming = next_order(stored.purchase_model, frame, as_of=end, time_unit=unit)
    scores = scores_frame(
        pd.concat([values, upcoming], axis=1),
        as_of=end,
        model_version=stored.version,
        currency=settings.currency,
        horizon_months=horizon,
    )
    if write:
        write_scores(con, scores)
    return scores


CLV_RUN = ("as_of", "model_version")
"""A scoring run of ``clv_scores``: writing it again replaces exactly its rows."""


def write_scores(con: BaseBackend, scores: pd.DataFrame) -> None:
    """Write ``scores`` to ``clv_scores``, replacing rows of the same as_of and model version.

    A ``clv_scores`` table written before a column was added to the schema (such as the
    next-order columns) is first widened, its earlier rows empty in the new columns.
    """
    _add_missing_columns(con, "clv_scores")
    wh.replace_scope(con, "clv_scores", scores, scope=CLV_RUN)


def _add_missing_columns(con: BaseBackend, name: str) -> None:
    """Rewrite table ``name`` with the schema's columns it lacks, as nulls (atomic swap)."""
    if not wh.table_exists(con, name):
        return
    stored = con.table(name)
    schema = get_table(name).ibis_schema()
    if all(c in stored.columns for c in schema.names):
        return
    widened = stored.select(
        *[
            stored[c] if c in stored.columns else ibis.null().cast(schema[c]).name(c)
            for c in schema.names
        ],
        *[stored[c] for c in stored.columns if c not in schema.names],
    )
    wh.write_table(con, name, widened)


@dataclass
class Evaluation:
    """What ``evaluate_clv`` measured on the holdout window."""

    version: str | None
    metrics: pd.DataFrame
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame
    predictions: pd.DataFrame
    params: dict[str, float]


def evaluate_clv(
    con: BaseBackend,
    *,
    settings: Settings,
    calibration_end: DateLike,
    holdout_end: DateLike | None = None,
    model: PurchaseKind = "bgnbd",
    version: str | None = None,
) -> Evaluation:
    """Fit on orders up to ``calibration_end`` and compare predictions with the holdout window.

    ``holdout_end`` defaults to the last order day. The metrics, the by-frequency table and the
    tracking curve are attached to the stored version named by ``version`` (default: latest,
    when one exists) so ``retain report`` can show them.
    """
    orders = _orders(con)
    cut = as_timestamp(calibration_end, name="calibration_end").floor("D")
    stop = _day(holdout_end, con, "holdout_end")
    unit = settings.clv.time_unit
    summary = rfm_summary(orders, calibration_end=cut, holdout_end=stop, time_unit=unit)
    frame = summary.to_pandas()
    purchase, spend, _ = _fit_pair(frame, model)
    predictions = holdout_predictions(purchase, frame, spend_model=spend)
    metrics = holdout_metrics(predictions)
    by_freq = calibration_by_frequency(predictions)
    tracking = cumulative_tracking(
        purchase, orders, calibration_end=cut, holdout_end=stop, time_unit=unit
    )
    stored_version: str | None = None
    try:
        stored_version = load_models(settings, version).version
    except NotFoundError:
        stored_version = None
    if stored_version is not None:
        update_meta(
            stored_version,
            settings=settings,
            evaluation={
                "calibration_end": cut.isoformat(),
                "holdout_end": stop.isoformat(),
                "model": model,
                "metrics": metrics.to_dict(orient="records"),
                "by_frequency": by_freq.to_dict(orient="records"),
                "tracking": tracking.to_dict(orient="records"),
            },
        )
    return Evaluation(
        version=stored_version,
        metrics=metrics,
        by_frequency=by_freq,
        tracking=tracking,
        predictions=predictions,
        params=purchase.params_,
    )
