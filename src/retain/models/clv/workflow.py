"""The three steps a user runs on their own warehouse: fit, score, evaluate.

These are the library functions behind ``retain clv fit | predict | evaluate``: each reads the
``orders`` table, builds the summaries in the engine with :func:`rfm_summary`, fits or loads the
models, and writes results (the model store, the ``clv_scores`` table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ibis
import pandas as pd

import retain.warehouse as wh
from retain.errors import NotFoundError
from retain.facts import (
    RATES_TABLE,
    DateLike,
    as_timestamp,
    in_reporting_currency,
    reporting_currency,
)
from retain.features.sources import Sources
from retain.i18n import t
from retain.models.clv.bgbb import BetaGeoBetaBinomModel
from retain.models.clv.bgnbd import BetaGeoModel
from retain.models.clv.checks import LABELS, captured, degenerate_notes
from retain.models.clv.contractual import (
    SubscriptionFit,
    fit_subscriptions,
    subscriber_values,
    subscription_spells,
)
from retain.models.clv.diagnostics import (
    calibration_by_frequency,
    cumulative_tracking,
    holdout_metrics,
    holdout_predictions,
)
from retain.models.clv.discrete import discrete_lifetime_value, discrete_summary
from retain.models.clv.gamma_gamma import GammaGammaModel
from retain.models.clv.next_order import next_order
from retain.models.clv.pareto_nbd import ParetoNBDModel
from retain.models.clv.rfm import rfm_summary
from retain.models.clv.selection import choose_purchase_model
from retain.models.clv.store import StoredModels, load_models, save_models, update_meta
from retain.models.clv.value import customer_lifetime_value, scores_frame
from retain.models.registry import ClvKind, ModelRegistry
from retain.schema import get_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["Evaluation", "evaluate_clv", "fit_clv", "score_clv", "write_scores"]

PurchaseKind = Literal["bgnbd", "pareto_nbd"]
ModelChoice = Literal["bgnbd", "pareto_nbd", "bgbb", "auto", "sbg"]
"""What ``fit_clv`` fits: a purchase model (``auto``: BG/NBD or Pareto/NBD by holdout fit;
``bgbb``: BG/BB on calendar months), or only the subscribers' renewal model (``sbg``).
Subscribers are valued whenever subscriptions exist."""
_PURCHASE: dict[str, type[Any]] = {
    "bgnbd": BetaGeoModel,
    "pareto_nbd": ParetoNBDModel,
    "bgbb": BetaGeoBetaBinomModel,
}
_KIND_OF_CLASS = {cls.__name__: kind for kind, cls in _PURCHASE.items()}


def _orders(con: BaseBackend) -> Any:
    """The warehouse's orders, completed to the canonical columns (:class:`Sources`)."""
    orders = _table(con, "orders")
    if orders is None:
        raise NotFoundError(t("clv.no_orders"), hint=t("clv.no_orders_hint"))
    return orders


def _table(con: BaseBackend, name: str) -> Any:
    """Canonical table ``name`` when the warehouse has it with at least one row, else None."""
    if not wh.table_exists(con, name):
        return None
    table = Sources.of(con).table(name)
    if table is None or int(table.count().execute()) == 0:
        return None
    return table


def _day(value: DateLike | None, con: BaseBackend, name: str = "as_of") -> pd.Timestamp:
    if value is not None:
        return as_timestamp(value, name=name).floor("D")
    orders = _orders(con)
    last = orders.ordered_at.max().execute()
    if last is None or pd.isna(last):
        raise NotFoundError(t("clv.no_orders"), hint=t("clv.no_orders_hint"))
    return pd.Timestamp(last).floor("D")


def _subscription_day(subscriptions: Any) -> pd.Timestamp:
    """The last day a subscription-only warehouse has data for: its last start or past end."""
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("D")
    started = pd.Timestamp(subscriptions.started_at.max().execute())
    ended = subscriptions.filter(subscriptions.ended_at <= today).ended_at.max().execute()
    last = started if ended is None or pd.isna(ended) else max(started, pd.Timestamp(ended))
    return last.tz_localize(None).floor("D") if last.tzinfo else last.floor("D")


def _fit_pair(
    summary: Any, kind: str, notes: list[str] | None = None
) -> tuple[Any, GammaGammaModel, list[str]]:
    """Fit ``kind`` and Gamma-Gamma; every warning becomes a plain note (none escapes)."""
    notes = [] if notes is None else notes
    label = LABELS[_PURCHASE[kind].__name__]
    with captured(notes, label):
        purchase = _PURCHASE[kind]().fit(summary)
    notes += degenerate_notes(purchase)
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
    if dropped:
        notes.append(t("clv.zero_spend_dropped", customers=dropped))
    with captured(notes, "Gamma-Gamma"):
        spend = GammaGammaModel().fit(paid)
    return purchase, spend, notes


def _is_ibis(obj: Any) -> bool:
    return type(obj).__module__.startswith("ibis.")


def fit_clv(
    con: BaseBackend,
    *,
    settings: Settings,
    model: ModelChoice = "bgnbd",
    as_of: DateLike | None = None,
) -> StoredModels:
    """Fit the CLV models on the warehouse and store them as one version.

    Customers with orders get a purchase model (``model``, or with ``"auto"`` the one with the
    better holdout fit, recorded in ``meta["selection"]``) and Gamma-Gamma; subscribers get a
    renewal model per plan and billing period (:mod:`~retain.models.clv.contractual`) whenever
    the ``subscriptions`` table has rows, so a mixed business gets both and a subscription-only
    one the contractual model alone. ``meta["warnings"]`` lists what the CLI should show:
    data-quality notes, degenerate parameters, plans valued with a pooled model.
    """
    orders = _table(con, "orders") if model != "sbg" else None
    subscriptions = _table(con, "subscriptions")
    if orders is None and subscriptions is None:
        if model == "sbg":
            raise NotFoundError(t("clv.no_subscriptions"), hint=t("clv.no_subscriptions_hint"))
        raise NotFoundError(t("clv.no_orders"), hint=t("clv.no_orders_hint"))
    if model == "sbg" and subscriptions is None:
        raise NotFoundError(t("clv.no_subscriptions"), hint=t("clv.no_subscriptions_hint"))
    if orders is not None:
        end = _day(as_of, con)
    elif as_of is not None:
        end = as_timestamp(as_of, name="as_of").floor("D")
    else:
        end = _subscription_day(subscriptions)
    unit = settings.clv.time_unit
    notes: list[str] = []
    models: dict[str, Any] = {}
    meta: dict[str, Any] = {"as_of": end.isoformat(), "time_unit": unit, "warnings": notes}
    if orders is not None:
        kind: str = model
        if model == "auto":
            kind, meta["selection"] = choose_purchase_model(
                orders, as_of=end, time_unit=unit, notes=notes
            )
        if kind == "bgbb":
            summary: Any = discrete_summary(orders, as_of=end)
            meta["time_unit"] = "month"
        else:
            summary = rfm_summary(orders, as_of=end, time_unit=unit)
        purchase, spend, _ = _fit_pair(summary, kind, notes)
        models.update(purchase=purchase, spend=spend)
        meta["model"] = kind
    elif model != "sbg":
        notes.append(t("clv.subscriptions_only"))
    if subscriptions is not None:
        spells = subscription_spells(subscriptions, as_of=end, currency=settings.currency)
        contracts = fit_subscriptions(spells)
        models.update(contracts.models)
        notes.extend(contracts.notes)
        meta["subscription_plans"] = contracts.plans
        meta["subscriptions"] = len(spells)
    if not models:
        raise NotFoundError(t("clv.no_model_fitted"), hint=t("clv.no_model_fitted_hint"))
    version = save_models(models, settings=settings, meta=meta)
    return StoredModels(version=version, models=models, meta=meta)


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

    Buyers are valued with the purchase and spend models, subscribers with the renewal models;
    a customer who is both gets one row whose ``clv`` adds the two (same currency). Subscriber
    rows leave the purchase summary (frequency, recency, T, monetary value) empty. Scores
    replace earlier rows with the same ``as_of`` and model version, so re-running is idempotent.
    """
    stored = load_models(settings, version)
    has_purchase = "purchase" in stored.models
    requested = as_of or stored.meta.get("as_of")
    if has_purchase or requested is None:
        end = _day(requested, con)
    else:
        end = as_timestamp(requested, name="as_of").floor("D")
    unit = stored.meta.get("time_unit", settings.clv.time_unit)
    horizon = horizon_months or settings.clv.horizon_months
    parts: list[pd.DataFrame] = []
    if has_purchase and isinstance(stored.purchase_model, BetaGeoBetaBinomModel):
        monthly = discrete_lifetime_value(
            stored.purchase_model,
            stored.spend_model,
            discrete_summary(_orders(con), as_of=end),
            horizon_months=horizon,
            margin=settings.clv.margin,
            annual_discount_rate=settings.clv.annual_discount_rate,
        )
        parts.append(monthly.assign(currency=settings.currency))
    elif has_purchase:
        summary = rfm_summary(_orders(con), as_of=end, time_unit=unit)
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
        parts.append(pd.concat([values, upcoming], axis=1).assign(currency=settings.currency))
    plans: dict[str, str] = stored.meta.get("subscription_plans") or {}
    subscriptions = _table(con, "subscriptions") if plans else None
    if subscriptions is not None:
        fit = SubscriptionFit(models=stored.subscription_models, plans=dict(plans))
        spells = subscription_spells(subscriptions, as_of=end, currency=settings.currency)
        subscribers = subscriber_values(
            fit,
            spells,
            horizon_months=horizon,
            margin=settings.clv.margin,
            annual_discount_rate=settings.clv.annual_discount_rate,
        )
        parts.append(_in_reporting(con, subscribers, as_of=end, currency=settings.currency))
    scores = scores_frame(
        _combine(parts),
        as_of=end,
        model_version=stored.version,
        currency=settings.currency,
        horizon_months=horizon,
    )
    if write:
        write_scores(con, scores)
    return scores


def _in_reporting(
    con: BaseBackend, values: pd.DataFrame, *, as_of: pd.Timestamp, currency: str
) -> pd.DataFrame:
    """One row per subscriber, every currency converted into the reporting one and added.

    Future payments are valued at the rates valid on ``as_of`` (the warehouse's
    ``exchange_rates``); a currency without a rate stops scoring with the same error as any sum
    of amounts (:func:`retain.facts.in_reporting_currency`).
    """
    rates = None
    if wh.table_exists(con, RATES_TABLE):
        rates = ibis.memtable(con.table(RATES_TABLE).to_pyarrow())
    table = ibis.memtable(values.assign(as_of=as_of))
    converted = in_reporting_currency(
        table,
        name="subscriptions",
        date="as_of",
        amounts=("clv", "expected_spend"),
        currency=currency,
        rates=rates,
    ).to_pandas()
    out = converted.groupby("customer_id", sort=False).agg(
        probability_alive=("probability_alive", "max"),
        expected_purchases=("expected_purchases", "sum"),
        expected_spend=("expected_spend", "sum"),
        clv=("clv", lambda v: v.sum(min_count=len(v))),
    )
    result: pd.DataFrame = out.reset_index().assign(currency=reporting_currency(currency))
    return result


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per customer: a buyer's row plus the value of their subscriptions.

    Both parts are in the reporting currency (orders are summed through
    :func:`retain.facts.in_reporting_currency`, subscribers by :func:`_in_reporting`), so a
    customer's values are added, never picked by comparing raw numbers across currencies.
    """
    if len(parts) == 1:
        first = parts[0]
        if "frequency" in first:
            return first
    buyers = parts[0] if "frequency" in parts[0] else None
    subs = parts[-1].set_index("customer_id")
    if buyers is None:
        return subs.reset_index()
    buyers = buyers.set_index("customer_id")
    both = buyers.index.intersection(subs.index)
    for column in ("clv", "expected_purchases"):
        buyers.loc[both, column] = buyers.loc[both, column] + subs.loc[both, column]
    buyers.loc[both, "probability_alive"] = subs.loc[both, "probability_alive"].combine(
        buyers.loc[both, "probability_alive"], max
    )
    only = subs.loc[subs.index.difference(buyers.index)]
    return pd.concat([buyers, only]).reset_index()


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
    model: str = "bgnbd"
    notes: list[str] = field(default_factory=list)


def evaluate_clv(
    con: BaseBackend,
    *,
    settings: Settings,
    calibration_end: DateLike,
    holdout_end: DateLike | None = None,
    model: PurchaseKind | None = None,
    version: str | None = None,
) -> Evaluation:
    """Fit on orders up to ``calibration_end`` and compare predictions with the holdout window.

    ``holdout_end`` defaults to the last order day. ``model`` defaults to the purchase model of
    the stored version (``version``, default: the latest; BG/NBD when none is stored). The
    metrics, the by-frequency table and the tracking curve are attached to a stored version of
    the same purchase model only (``version``, else the newest such), so ``retain report`` never
    shows one model's evaluation under another's name; ``Evaluation.version`` is None when no
    stored version matches. Warnings of the fit are in ``Evaluation.notes``.
    """
    orders = _orders(con)
    cut = as_timestamp(calibration_end, name="calibration_end").floor("D")
    stop = _day(holdout_end, con, "holdout_end")
    unit = settings.clv.time_unit
    stored_version, stored_kind = _stored_purchase(settings, version, model)
    kind: PurchaseKind = model or stored_kind or "bgnbd"
    summary = rfm_summary(orders, calibration_end=cut, holdout_end=stop, time_unit=unit)
    frame = summary.to_pandas()
    notes: list[str] = []
    purchase, spend, _ = _fit_pair(frame, kind, notes)
    with captured(notes, LABELS[type(purchase).__name__]):
        predictions = holdout_predictions(purchase, frame, spend_model=spend)
        metrics = holdout_metrics(predictions)
        by_freq = calibration_by_frequency(predictions)
        tracking = cumulative_tracking(
            purchase, orders, calibration_end=cut, holdout_end=stop, time_unit=unit
        )
    if stored_version is not None:
        update_meta(
            stored_version,
            settings=settings,
            evaluation={
                "calibration_end": cut.isoformat(),
                "holdout_end": stop.isoformat(),
                "model": kind,
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
        model=kind,
        notes=notes,
    )


def _stored_purchase(
    settings: Settings, version: str | None, model: PurchaseKind | None
) -> tuple[str | None, PurchaseKind | None]:
    """The stored version an evaluation of ``model`` belongs to, and its purchase model.

    ``version`` given: that version, if its purchase model is ``model`` (or ``model`` is None).
    Otherwise the newest version whose purchase model is ``model``; (None, None) when none is.
    """
    registry = ModelRegistry(settings.models_dir)
    if version is not None:
        card = registry.select(ClvKind.name, version)
        kind = _card_kind(card.data)
        return (card.version, kind) if model is None or kind == model else (None, kind)
    for card in registry.cards(ClvKind.name):
        kind = _card_kind(card.data)
        if kind is not None and (model is None or kind == model):
            return card.version, kind
    return None, None


def _card_kind(data: Any) -> PurchaseKind | None:
    entry = (data.get("models") or {}).get("purchase") if isinstance(data, dict) else None
    name = entry.get("class") if isinstance(entry, dict) else None
    kind = _KIND_OF_CLASS.get(str(name))
    return "pareto_nbd" if kind == "pareto_nbd" else "bgnbd" if kind == "bgnbd" else None
