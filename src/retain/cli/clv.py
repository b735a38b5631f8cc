"""``retain clv fit | predict | evaluate``: lifetime value on the warehouse's orders."""

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
from retain.models.clv.workflow import PurchaseKind

__all__ = ["clv_app"]

clv_app = typer.Typer(
    help="Customer lifetime value: fit BG/NBD + Gamma-Gamma, score customers, check a holdout.",
    no_args_is_help=True,
)
app.add_typer(clv_app, name="clv")


class PurchaseModelName(StrEnum):
    """Purchase model choices on the command line."""

    bgnbd = "bgnbd"
    pareto_nbd = "pareto-nbd"


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


_MODEL_NAMES = {
    "BetaGeoModel": "BG/NBD",
    "ParetoNBDModel": "Pareto/NBD",
    "GammaGammaModel": "Gamma-Gamma",
}


@clv_app.command("fit")
def fit(
    model: Annotated[
        PurchaseModelName, typer.Option("--model", help="Purchase model.")
    ] = PurchaseModelName.bgnbd,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Last day of orders to use, YYYY-MM-DD (default: the last order day)."
        ),
    ] = None,
) -> None:
    """Fit a purchase model and Gamma-Gamma on the orders table and store them as a new version."""
    from retain.models.clv import fit_clv

    conf = settings()
    con = wh.connect(settings=conf)
    kind: PurchaseKind = "bgnbd" if model is PurchaseModelName.bgnbd else "pareto_nbd"
    stored = fit_clv(con, settings=conf, model=kind, as_of=_date(as_of, "--as-of"))
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
    for note in stored.meta.get("warnings", []):
        err_console.print(f"[yellow]{t('clv.warning')}:[/] {note}", highlight=False)


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
    console.print(
        t(
            "clv.scored",
            customers=format_number(len(scores)),
            total=format_currency(float(scores["clv"].sum()), currency),
            months=months,
            version=str(scores["model_version"].iloc[0]) if len(scores) else "-",
        )
    )
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
                format_currency(float(row.clv), currency),  # type: ignore[arg-type]
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
        PurchaseModelName, typer.Option("--model", help="Purchase model.")
    ] = PurchaseModelName.bgnbd,
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
    kind: PurchaseKind = "bgnbd" if model is PurchaseModelName.bgnbd else "pareto_nbd"
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
    if result.version:
        console.print(t("clv.evaluation_saved", version=result.version))
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
