"""Calibration / holdout validation of the purchase and spend models, and their charts.

The checks Fader, Hardie & Lee (2005) use to show a model works: fit on a calibration window,
then compare, customer by customer, the purchases (and spend) it predicts for the holdout window
with what happened, grouped by calibration frequency (their Figure 4), and track cumulative
repeat purchases week by week across both windows (their Figure 3). Each comparison also shows
the naive baseline "each customer's past rate continues", so the gain from the model is visible.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from retain.facts import completed_orders
from retain.i18n import t
from retain.models.clv.gamma_gamma import GammaGammaModel
from retain.models.clv.rfm import UNIT_DAYS

__all__ = [
    "calibration_by_frequency",
    "cumulative_tracking",
    "holdout_metrics",
    "holdout_predictions",
    "plot_calibration_by_frequency",
    "plot_cumulative_tracking",
    "plot_probability_alive",
]


def holdout_predictions(
    purchase_model: Any, summary: Any, *, spend_model: GammaGammaModel | None = None
) -> pd.DataFrame:
    """Predicted, baseline and actual holdout purchases (and spend) per customer.

    ``summary`` is :func:`rfm_summary` with a holdout window (a frame or an Ibis table).
    Baseline purchases are ``frequency / T * duration_holdout``; baseline spend multiplies them
    by the customer's calibration average (the population average for one-time buyers).
    """
    frame = summary.to_pandas() if type(summary).__module__.startswith("ibis.") else summary
    frame = frame.reset_index(drop=True)
    duration = frame["duration_holdout"].to_numpy(dtype=float)
    predicted = np.empty(len(frame))
    for value in np.unique(duration):
        rows = duration == value
        predicted[rows] = purchase_model.conditional_expected_purchases(
            float(value), frame.loc[rows]
        ).to_numpy()
    T = frame["T"].to_numpy(dtype=float)
    freq = frame["frequency"].to_numpy(dtype=float)
    baseline = np.where(T > 0, freq / np.where(T > 0, T, 1.0), 0.0) * duration
    out = pd.DataFrame(
        {
            "frequency": freq,
            "actual_purchases": frame["frequency_holdout"].to_numpy(dtype=float),
            "predicted_purchases": predicted,
            "baseline_purchases": baseline,
        }
    )
    if "customer_id" in frame.columns:
        out.insert(0, "customer_id", frame["customer_id"].to_numpy())
    if spend_model is not None:
        spend = spend_model.expected_customer_spend(frame).to_numpy()
        own = frame["monetary_value"].to_numpy(dtype=float)
        out["actual_spend"] = frame["frequency_holdout"].to_numpy(dtype=float) * frame[
            "monetary_value_holdout"
        ].to_numpy(dtype=float)
        out["predicted_spend"] = predicted * spend
        out["baseline_spend"] = baseline * np.where(
            freq > 0, own, spend_model.expected_average_spend()
        )
    return out


def holdout_metrics(predictions: pd.DataFrame) -> pd.DataFrame:
    """MAE, RMSE, Spearman rank correlation and totals of model and baseline, per quantity."""
    rows = []
    for quantity in ("purchases", "spend"):
        actual_col = f"actual_{quantity}"
        if actual_col not in predictions:
            continue
        actual = predictions[actual_col].to_numpy(dtype=float)
        for method in ("predicted", "baseline"):
            guess = predictions[f"{method}_{quantity}"].to_numpy(dtype=float)
            rho = spearmanr(guess, actual).statistic if np.ptp(guess) > 0 else float("nan")
            rows.append(
                {
                    "quantity": quantity,
                    "method": "model" if method == "predicted" else "baseline",
                    "mae": float(np.mean(np.abs(guess - actual))),
                    "rmse": float(np.sqrt(np.mean((guess - actual) ** 2))),
                    "spearman": float(rho),
                    "total_predicted": float(guess.sum()),
                    "total_actual": float(actual.sum()),
                }
            )
    return pd.DataFrame(rows)


def calibration_by_frequency(predictions: pd.DataFrame, *, max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual, predicted and baseline holdout purchases by calibration frequency.

    Frequencies above ``max_frequency`` are pooled into one ``max_frequency+`` group (FHL 2005,
    Figure 4 pools 7+).
    """
    bucket = np.minimum(predictions["frequency"].to_numpy(dtype=float), max_frequency).astype(int)
    grouped = predictions.assign(bucket=bucket).groupby("bucket")
    table = pd.DataFrame(
        {
            "customers": grouped.size(),
            "actual": grouped["actual_purchases"].mean(),
            "predicted": grouped["predicted_purchases"].mean(),
            "baseline": grouped["baseline_purchases"].mean(),
        }
    )
    table.index = [f"{i}+" if i == max_frequency else str(i) for i in table.index]
    table.index.name = "calibration_frequency"
    return table.reset_index()


def cumulative_tracking(
    purchase_model: Any,
    orders: ir.Table,
    *,
    calibration_end: str | dt.date | pd.Timestamp,
    holdout_end: str | dt.date | pd.Timestamp,
    time_unit: str = "week",
) -> pd.DataFrame:
    """Cumulative repeat purchases of the calibration cohort, actual vs expected, per period.

    Counted per purchase day, as in :func:`rfm_summary`; the expected curve sums
    ``E[X(t - t_i)]`` over customers by their first purchase day ``t_i``. Periods are
    ``time_unit`` long and start on the cohort's first purchase day.
    """
    unit = UNIT_DAYS[time_unit]
    cut = pd.Timestamp(calibration_end).floor("D")
    stop = pd.Timestamp(holdout_end).floor("D")
    src = completed_orders(orders)
    days = src.select(customer_id=src.customer_id, day=src.ordered_at.truncate("D")).distinct()
    first = days.group_by("customer_id").aggregate(first_day=days.day.min())
    cohort = first.filter(first.first_day <= ibis.literal(cut.to_pydatetime(), type="timestamp"))
    start_expr = cohort.first_day.min()
    joined = days.inner_join(cohort, "customer_id")
    repeat = joined.filter(
        (joined.day > joined.first_day)
        & (joined.day <= ibis.literal(stop.to_pydatetime(), type="timestamp"))
    )
    repeat_days = repeat.group_by("day").aggregate(n=repeat.count()).to_pandas()
    cohort_days = cohort.group_by("first_day").aggregate(n=cohort.count()).to_pandas()
    start = pd.Timestamp(start_expr.execute())
    n_periods = int(np.ceil(((stop - start).days + 1) / unit))
    ends = np.arange(1, n_periods + 1) * unit  # days after start, at each period's end
    offsets = ((pd.to_datetime(repeat_days["day"]) - start).dt.days + 1).to_numpy(dtype=float)
    actual = np.array([repeat_days["n"].to_numpy()[offsets <= e].sum() for e in ends], dtype=float)
    born = ((pd.to_datetime(cohort_days["first_day"]) - start).dt.days + 1).to_numpy(dtype=float)
    counts = cohort_days["n"].to_numpy(dtype=float)
    expected = np.array(
        [
            float(counts @ purchase_model.expected_purchases(np.maximum(e - born, 0.0) / unit))
            for e in ends
        ]
    )
    return pd.DataFrame(
        {
            "period": np.arange(1, n_periods + 1),
            "actual": actual,
            "expected": expected,
            "holdout": ends > ((cut - start).days + 1),
        }
    )


def plot_calibration_by_frequency(table: pd.DataFrame) -> Any:
    """Grouped lines of mean holdout purchases by calibration frequency."""
    import plotly.graph_objects as go

    fig = go.Figure()
    x = table["calibration_frequency"]
    fig.add_trace(
        go.Scatter(x=x, y=table["actual"], name=t("clv.series_actual"), mode="lines+markers")
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=table["predicted"],
            name=t("clv.series_model"),
            mode="lines+markers",
            line={"dash": "dash"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=table["baseline"],
            name=t("clv.series_baseline"),
            mode="lines+markers",
            line={"dash": "dot"},
        )
    )
    fig.update_layout(
        title=t("clv.chart_by_frequency"),
        xaxis_title=t("clv.axis_calibration_frequency"),
        yaxis_title=t("clv.axis_holdout_purchases"),
        template="plotly_white",
    )
    return fig


def plot_cumulative_tracking(table: pd.DataFrame) -> Any:
    """Cumulative repeat purchases per period, actual vs expected, with the holdout shaded."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=table["period"], y=table["actual"], name=t("clv.series_actual")))
    fig.add_trace(
        go.Scatter(
            x=table["period"],
            y=table["expected"],
            name=t("clv.series_model"),
            line={"dash": "dash"},
        )
    )
    hold = table.loc[table["holdout"], "period"]
    if len(hold):
        fig.add_vrect(
            x0=float(hold.iloc[0]) - 1,
            x1=float(hold.iloc[-1]),
            opacity=0.08,
            fillcolor="gray",
            line_width=0,
            annotation_text=t("clv.holdout_label"),
        )
    fig.update_layout(
        title=t("clv.chart_tracking"),
        xaxis_title=t("clv.axis_period"),
        yaxis_title=t("clv.axis_cumulative"),
        template="plotly_white",
    )
    return fig


def plot_probability_alive(values: Any, *, bins: int = 20) -> Any:
    """Histogram of P(alive) across customers."""
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Histogram(
            x=np.asarray(values, dtype=float),
            nbinsx=bins,
            xbins={"start": 0.0, "end": 1.0, "size": 1.0 / bins},
        )
    )
    fig.update_layout(
        title=t("clv.chart_alive"),
        xaxis_title=t("clv.axis_alive"),
        yaxis_title=t("clv.axis_customers"),
        template="plotly_white",
    )
    return fig
