"""``retain clv fit | predict | evaluate``: lifetime value of buyers and subscribers."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

import retain.warehouse as wh
from retain.cli._app import app, console, err_console, settings
from retain.errors import InvalidParameterError
from retain.i18n import format_currency, format_date, format_number, format_percent, t
from retain.models.clv.workflow import ModelChoice, PurchaseKind

__all__ = ["clv_app"]

clv_app = typer.Typer(
    help="Customer lifetime value: fit BG/NBD or Pareto/NBD + Gamma-Gamma for buyers and sBG per "
    "plan for subscribers, score customers, check a holdout.",
    no_args_is_help=True,
)
app.add_typer(clv_app, name="clv")


class PurchaseModelName(StrEnum):
    """Purchase model choices on the command line."""

    bgnbd = "bgnbd"
    pareto_nbd = "pareto-nbd"


class FitModelName(StrEnum):
    """What ``retain clv fit --model`` fits (subscribers always get sBG when there are any)."""

    bgnbd = "bgnbd"
    pareto_nbd = "pareto-nbd"
    bgbb = "bgbb"
    auto = "auto"
    sbg = "sbg"


_FIT_KIND: dict[FitModelName, ModelChoice] = {
    FitModelName.bgnbd: "bgnbd",
    FitModelName.pareto_nbd: "pareto_nbd",
    FitModelName.bgbb: "bgbb",
    FitModelName.auto: "auto",
    FitModelName.sbg: "sbg",
}


def _date(value: str | None, option: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(dt.date.fromisoformat(value))
    except ValueError:
        raise InvalidParameterError(
            t("clv.bad_date", name=option, value=repr(value)), hint=t("clv.bad_date_hint")
        ) from None


def _params_table(title: str, model: Any) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(t("clv.col_parameter"))
    table.add_column(t("clv.col_estimate"), justify="right")
    table.add_column(t("clv.col_std_error"), justify="right")
    for name, value in model.params_.items():
        table.add_row(name, f"{value:.4f}", f"{model.standard_errors_.get(name, float('nan')):.4f}")
    return table


_KIND_NAMES = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}
_MODEL_NAMES = {
    "BetaGeoModel": "BG/NBD",
    "ParetoNBDModel": "Pareto/NBD",
    "BetaGeoBetaBinomModel": "BG/BB",
    "GammaGammaModel": "Gamma-Gamma",
}


@clv_app.command("fit")
def fit(
    model: Annotated[
        FitModelName,
        typer.Option(
            "--model",
            help="Purchase model for buyers: bgnbd, pareto-nbd, auto (the better holdout fit of "
            "the two) or bgbb (buying months, discrete); sbg fits subscribers only. Subscribers "
            "get sBG per plan in every case.",
        ),
    ] = FitModelName.bgnbd,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Last day of orders to use, YYYY-MM-DD (default: the last order day)."
        ),
    ] = None,
) -> None:
    """Fit the lifetime-value models (buyers and subscribers) and store them as a new version."""
    from retain.models.clv import fit_clv

    conf = settings()
    con = wh.connect(settings=conf)
    stored = fit_clv(con, settings=conf, model=_FIT_KIND[model], as_of=_date(as_of, "--as-of"))
    if "purchase" in stored.models:
        _print_purchase(stored)
    if stored.subscription_models:
        _print_subscriptions(stored)
    for note in stored.meta.get("warnings", []):
        err_console.print(f"[yellow]{t('clv.warning')}:[/] {note}", highlight=False)


def _print_purchase(stored: Any) -> None:
    purchase, spend = stored.purchase_model, stored.spend_model
    console.print(
        t(
            "clv.fitted",
            model=_MODEL_NAMES[type(purchase).__name__],
            customers=format_number(purchase.n_customers_),
            as_of=format_date(pd.Timestamp(stored.meta["as_of"]).date()),
            version=stored.version,
        )
    )
    selection = stored.meta.get("selection")
    if selection and selection.get("reason"):
        console.print(t("clv.choice", reason=selection["reason"]), highlight=False)
    console.print(_params_table(_MODEL_NAMES[type(purchase).__name__], purchase))
    console.print(
        t(
            "clv.fit_quality",
            ll=f"{purchase.log_likelihood_:,.1f}",
            aic=f"{purchase.aic_:,.1f}",
            bic=f"{purchase.bic_:,.1f}",
        )
    )
    console.print(_params_table("Gamma-Gamma", spend))
    console.print(
        t(
            "clv.fit_spend",
            customers=format_number(spend.n_customers_),
            corr=f"{spend.frequency_spend_correlation_:.2f}",
        )
    )


def _print_subscriptions(stored: Any) -> None:
    """The renewal model of every plan: who it was fitted on and its first renewal rate."""
    models = stored.subscription_models
    console.print(
        t(
            "clv.fitted_subscriptions",
            subscriptions=format_number(int(stored.meta.get("subscriptions", 0))),
            plans=format_number(len(stored.meta.get("subscription_plans", {}))),
            as_of=format_date(pd.Timestamp(stored.meta["as_of"]).date()),
            version=stored.version,
        )
    )
    table = Table(title=t("clv.subscriptions_title"), title_justify="left")
    for key in ("col_plan", "col_billing_period", "col_subscriptions", "col_renewal"):
        table.add_column(t(f"clv.{key}"), justify="left" if key == "col_plan" else "right")
    for plan_role, model_role in stored.meta.get("subscription_plans", {}).items():
        _, period, plan = plan_role.split(":", 2)
        sbg = models.get(model_role)
        if sbg is None:
            continue
        shown = plan if model_role == plan_role else t("clv.plan_pooled", plan=plan)
        table.add_row(
            shown,
            period,
            format_number(sbg.n_customers_),
            format_percent(float(sbg.expected_retention_rate(1)), digits=1),
        )
    console.print(table)


@clv_app.command("predict")
def predict(
    version: Annotated[
        str | None, typer.Option("--version", help="Stored model version (default: the latest).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Score as of this day, YYYY-MM-DD (default: the day the model was fitted).",
        ),
    ] = None,
    horizon_months: Annotated[
        int | None,
        typer.Option(
            "--horizon-months", min=1, help="CLV horizon (default: [clv] horizon_months)."
        ),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", min=0, help="Show the N most valuable customers.")
    ] = 10,
) -> None:
    """Score every customer's lifetime value and write the clv_scores table."""
    from retain.models.clv import score_clv

    conf = settings()
    con = wh.connect(settings=conf)
    scores = score_clv(
        con,
        settings=conf,
        version=version,
        as_of=_date(as_of, "--as-of"),
        horizon_months=horizon_months,
    )
    currency = conf.currency
    months = int(scores["horizon_months"].iloc[0]) if len(scores) else conf.clv.horizon_months
    subscribers = int(scores["frequency"].isna().sum()) if len(scores) else 0
    console.print(
        t(
            "clv.scored",
            customers=format_number(len(scores)),
            total=format_currency(float(scores["clv"].sum()), currency),
            months=months,
            version=str(scores["model_version"].iloc[0]) if len(scores) else "-",
        )
    )
    if subscribers:
        console.print(t("clv.scored_subscribers", subscribers=format_number(subscribers)))
    if top and len(scores):
        table = Table(title=t("clv.report_top_title"), title_justify="left")
        for key in ("col_customer", "col_clv", "col_alive", "col_purchases"):
            table.add_column(
                t(f"clv.{key}"),
                justify="left" if key == "col_customer" else "right",
                overflow="fold",
            )
        for row in scores.nlargest(top, "clv").itertuples(index=False):
            table.add_row(
                str(row.customer_id),
                format_currency(float(row.clv), str(row.currency or currency)),  # type: ignore[arg-type]
                format_percent(float(row.probability_alive), digits=0),  # type: ignore[arg-type]
                format_number(float(row.expected_purchases), digits=2),  # type: ignore[arg-type]
            )
        console.print(table)


@clv_app.command("evaluate")
def evaluate(
    calibration_end: Annotated[
        str,
        typer.Option("--calibration-end", help="Last day of the calibration window, YYYY-MM-DD."),
    ],
    holdout_end: Annotated[
        str | None,
        typer.Option(
            "--holdout-end", help="Last day of the holdout window (default: the last order day)."
        ),
    ] = None,
    model: Annotated[
        PurchaseModelName | None,
        typer.Option(
            "--model", help="Purchase model (default: the one of the latest fitted version)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Also write the diagnostic charts to this HTML file."),
    ] = None,
) -> None:
    """Fit on a calibration window and compare predictions with the holdout window."""
    from retain.models.clv import evaluate_clv
    from retain.models.clv.diagnostics import (
        plot_calibration_by_frequency,
        plot_cumulative_tracking,
    )

    conf = settings()
    con = wh.connect(settings=conf)
    cut = _date(calibration_end, "--calibration-end")
    assert cut is not None
    kind: PurchaseKind | None = (
        None if model is None else "bgnbd" if model is PurchaseModelName.bgnbd else "pareto_nbd"
    )
    result = evaluate_clv(
        con,
        settings=conf,
        calibration_end=cut,
        holdout_end=_date(holdout_end, "--holdout-end"),
        model=kind,
    )
    table = Table(title=t("clv.metrics_title"), title_justify="left")
    for key in (
        "col_quantity",
        "col_method",
        "col_mae",
        "col_spearman",
        "col_total_predicted",
        "col_total_actual",
    ):
        table.add_column(
            t(f"clv.{key}"),
            justify="left" if key in ("col_quantity", "col_method") else "right",
            overflow="fold",
        )
    for row in result.metrics.itertuples(index=False):
        table.add_row(
            t(f"clv.quantity_{row.quantity}"),
            t(f"clv.method_{row.method}"),
            format_number(float(row.mae), digits=3),  # type: ignore[arg-type]
            format_number(float(row.spearman), digits=3),  # type: ignore[arg-type]
            format_number(float(row.total_predicted), digits=1),  # type: ignore[arg-type]
            format_number(float(row.total_actual), digits=1),  # type: ignore[arg-type]
        )
    console.print(table)
    freq = Table(title=t("clv.chart_by_frequency"), title_justify="left")
    for key in (
        "axis_calibration_frequency",
        "axis_customers",
        "series_actual",
        "series_model",
        "series_baseline",
    ):
        freq.add_column(t(f"clv.{key}"), justify="right", overflow="fold")
    for r in result.by_frequency.itertuples(index=False):
        freq.add_row(
            str(r.calibration_frequency),
            format_number(int(r.customers)),  # type: ignore[arg-type]
            format_number(float(r.actual), digits=3),  # type: ignore[arg-type]
            format_number(float(r.predicted), digits=3),  # type: ignore[arg-type]
            format_number(float(r.baseline), digits=3),  # type: ignore[arg-type]
        )
    console.print(freq)
    for note in result.notes:
        err_console.print(f"[yellow]{t('clv.warning')}:[/] {note}", highlight=False)
    if result.version:
        console.print(t("clv.evaluation_saved", version=result.version))
    else:
        console.print(t("clv.evaluation_not_saved", model=_KIND_NAMES[result.model]))
    if output is not None:
        figures = [
            plot_calibration_by_frequency(result.by_frequency),
            plot_cumulative_tracking(result.tracking),
        ]
        parts = [
            fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
            for i, fig in enumerate(figures)
        ]
        output.write_text(
            "<!doctype html><meta charset='utf-8'>\n" + "\n".join(parts), encoding="utf-8"
        )
        console.print(t("clv.charts_written", path=str(output)))
