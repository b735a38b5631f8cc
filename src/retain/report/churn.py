"""The "Churn risk" section of ``retain report``: evaluation, calibration, lift, top reasons.

It reads the newest registered churn model's card and its latest scores; with no model trained
yet the section is skipped by an explicit check, not by an error.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pandas as pd

import retain.warehouse as wh
from retain.i18n import format_number, t
from retain.models.churn import Backtest
from retain.models.churn.reasons import parse_stored_reasons
from retain.models.registry import ModelRegistry
from retain.report.section import Figure, Section

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = ["evaluation_table", "report_sections"]

_COLUMNS = ("roc_auc", "pr_auc", "brier", "lift_10", "recall_10", "lift_20", "recall_20")


def evaluation_table(result: Backtest) -> pd.DataFrame:
    """The model and its baselines side by side, with translated model names."""
    frame = result.metrics.copy()
    frame["model"] = [t(f"churn.model_{name}") for name in frame["model"]]
    cols = ["model", *(c for c in _COLUMNS if c in frame.columns)]
    return frame[cols].round(4)


def _calibration_figure(result: Backtest) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name=t("churn.perfect"),
            line={"dash": "dash", "color": "grey"},
        )
    )
    for name, part in result.calibration.groupby("model", sort=False):
        fig.add_trace(
            go.Scatter(
                x=part["mean_predicted"],
                y=part["observed"],
                mode="lines+markers",
                name=t(f"churn.model_{name}"),
            )
        )
    fig.update_layout(xaxis_title=t("churn.predicted"), yaxis_title=t("churn.observed"))
    return fig


def _lift_figure(result: Backtest) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, part in result.lift.groupby("model", sort=False):
        fig.add_trace(
            go.Scatter(
                x=part["share"],
                y=part["recall"],
                mode="lines+markers",
                name=t(f"churn.model_{name}"),
            )
        )
    fig.update_layout(
        xaxis_title=t("churn.share_targeted"),
        yaxis_title=t("churn.recall"),
        xaxis_tickformat=".0%",
        yaxis_tickformat=".0%",
    )
    return fig


def _reason_counts(con: Any, version: str) -> pd.DataFrame | None:
    """How often each reason is a customer's first reason, with one rendered example."""
    if con is None or not wh.table_exists(con, "churn_scores"):
        return None
    scores = wh.read_table(con, "churn_scores")
    scores = scores.filter(scores.model_version == version)
    rows = scores.filter(scores.as_of == scores.as_of.max()).select("reasons").to_pandas()
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for text in rows["reasons"].dropna():
        for reason in parse_stored_reasons(text)[:1]:
            counts[reason.key] += 1
            examples.setdefault(reason.key, t(reason.key, **reason.params))
    if not counts:
        return None
    return pd.DataFrame(
        [
            {"key": key, "customers": n, "example": examples[key]}
            for key, n in counts.most_common(10)
        ]
    )


def report_sections(con: Any, settings: Settings) -> list[Section]:
    """The churn section of the report for the newest model; ``[]`` when none is trained."""
    cards = ModelRegistry(settings.models_dir).cards("churn")
    if not cards:
        return []
    card = cards[0].data
    items: list[Figure] = []
    if card.get("backtest"):
        result = Backtest.from_dict(card["backtest"])
        table = evaluation_table(result)
        best = result.metrics.set_index("model")
        model_auc = float(best.loc["model", "roc_auc"])  # type: ignore[arg-type]
        others = best.drop(index="model")
        reading = t(
            "churn.reading_eval",
            auc=format_number(model_auc, digits=3),
            best=t(f"churn.model_{others['roc_auc'].idxmax()}") if len(others) else "-",
            best_auc=format_number(float(others["roc_auc"].max()), digits=3)
            if len(others)
            else "-",
        )
        items.append(Figure(t("churn.title_eval"), reading, table=table))
        items.append(
            Figure(
                t("churn.title_calibration"),
                t("churn.reading_calibration"),
                figure=_calibration_figure(result),
            )
        )
        items.append(
            Figure(t("churn.title_lift"), t("churn.reading_lift"), figure=_lift_figure(result))
        )
    reasons = _reason_counts(con, card["version"])
    if reasons is not None and not reasons.empty:
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(x=reasons["customers"], y=reasons["example"], orientation="h"))
        fig.update_layout(yaxis={"autorange": "reversed"}, xaxis_title=t("churn.customers"))
        items.append(
            Figure(
                t("churn.title_reasons"),
                t("churn.reading_reasons", example=reasons.iloc[0]["example"]),
                figure=fig,
                table=reasons,
            )
        )
    summary = t(
        "churn.summary",
        version=card["version"],
        definition=card["definition"]["name"],
        horizon=card["definition"]["horizon_days"],
    )
    return [Section("churn", t("churn.title"), summary, items)]
