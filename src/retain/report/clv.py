"""The "Lifetime value" section of ``retain report``: concentration, P(alive), fit, subscribers.

The subscribers' figure shows their value and the renewal model each plan was valued with.

It reads the newest stored CLV model and its latest scores; with no model fitted yet (or no
scores written) the section is skipped by an explicit check, not by an error. Subscribers'
rows are those without a purchase summary (``frequency`` empty): their P(alive) is observed
(1 while subscribed), so the P(alive) chart shows buyers only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

import retain.warehouse as wh
from retain.i18n import format_currency, format_number, format_percent, t
from retain.models.clv import (
    plot_calibration_by_frequency,
    plot_cumulative_tracking,
    plot_probability_alive,
)
from retain.models.registry import ModelRegistry
from retain.report.section import Figure, Section

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["report_sections"]


def _latest_scores(con: BaseBackend, version: str) -> pd.DataFrame:
    if not wh.table_exists(con, "clv_scores"):
        return pd.DataFrame()
    scores = wh.read_table(con, "clv_scores")
    mine = scores.filter(scores.model_version == version)
    latest = mine.as_of.max().execute()
    if latest is None or pd.isna(latest):
        return pd.DataFrame()
    frame: pd.DataFrame = mine.filter(mine.as_of == latest).to_pandas()
    return frame


def report_sections(con: BaseBackend, settings: Settings) -> list[Section]:
    """The "Lifetime value" section: CLV concentration, P(alive), and holdout diagnostics.

    Returns an empty list when no CLV model has been fitted or no scores were written.
    """
    cards = ModelRegistry(settings.models_dir).cards("clv")
    if not cards:
        return []
    newest = cards[0]
    meta: dict[str, Any] = dict(newest.data.get("meta") or {})
    scores = _latest_scores(con, newest.version)
    if scores.empty:
        return []
    currency = str(scores["currency"].mode().iloc[0] or settings.currency)
    total = float(scores["clv"].sum())
    ranked = scores.sort_values("clv", ascending=False).reset_index(drop=True)
    top = ranked.head(max(1, len(ranked) // 10))
    share = float(top["clv"].sum()) / total if total > 0 else 0.0
    buyers = scores["frequency"].notna()
    alive = scores.loc[buyers, "probability_alive"].astype(float)
    items: list[Figure] = [
        Figure(
            title=t("clv.report_top_title"),
            reading=t("clv.report_top_reading", share=format_percent(share)),
            table=_top_table(top.head(20), currency),
        ),
    ]
    if len(alive):
        items.append(
            Figure(
                title=t("clv.chart_alive"),
                reading=t(
                    "clv.report_alive_reading", share=format_percent(float((alive < 0.5).mean()))
                ),
                figure=plot_probability_alive(alive),
            )
        )
    if not buyers.all():
        items.append(_subscribers(scores[~buyers], newest.data, currency))
    evaluation: dict[str, Any] | None = meta.get("evaluation")
    if evaluation:
        by_freq = pd.DataFrame(evaluation["by_frequency"])
        tracking = pd.DataFrame(evaluation["tracking"])
        metrics = pd.DataFrame(evaluation["metrics"])
        purchases = metrics[metrics["quantity"] == "purchases"].set_index("method")
        items.append(
            Figure(
                title=t("clv.chart_by_frequency"),
                reading=t(
                    "clv.report_holdout_reading",
                    model=format_number(float(purchases.loc["model", "mae"]), digits=3),  # type: ignore[arg-type]
                    baseline=format_number(
                        float(purchases.loc["baseline", "mae"]),  # type: ignore[arg-type]
                        digits=3,
                    ),
                ),
                figure=plot_calibration_by_frequency(by_freq),
                table=_metrics_table(metrics),
            )
        )
        items.append(
            Figure(
                title=t("clv.chart_tracking"),
                reading=t(
                    "clv.report_tracking_reading",
                    expected=format_number(float(tracking["expected"].iloc[-1]), digits=0),
                    actual=format_number(float(tracking["actual"].iloc[-1]), digits=0),
                ),
                figure=plot_cumulative_tracking(tracking),
            )
        )
    summary = t(
        "clv.report_summary",
        customers=format_number(len(scores)),
        total=format_currency(total, currency),
        months=int(scores["horizon_months"].iloc[0]),
        version=newest.version,
    )
    return [Section(key="clv", title=t("clv.report_title"), summary=summary, items=items)]


def _subscribers(scores: pd.DataFrame, card: Any, currency: str) -> Figure:
    """The subscribers' value, and the renewal model each plan was valued with."""
    meta = card.get("meta") or {}
    models = card.get("models") or {}
    rows = []
    for plan_role, model_role in (meta.get("subscription_plans") or {}).items():
        _, period, plan = str(plan_role).split(":", 2)
        state = (models.get(model_role) or {}).get("state") or {}
        params = state.get("params_") or {}
        if "alpha" not in params:
            continue
        alpha, beta = float(params["alpha"]), float(params["beta"])
        rows.append(
            {
                t("clv.col_plan"): plan
                if model_role == plan_role
                else t("clv.plan_pooled", plan=plan),
                t("clv.col_billing_period"): period,
                t("clv.col_subscriptions"): format_number(int(state.get("n_customers_", 0))),
                t("clv.col_renewal"): format_percent(beta / (alpha + beta), digits=1),
            }
        )
    return Figure(
        title=t("clv.report_subscribers_title"),
        reading=t(
            "clv.report_subscribers_reading",
            subscribers=format_number(len(scores)),
            active=format_number(int((scores["probability_alive"] > 0).sum())),
            total=format_currency(float(scores["clv"].sum()), currency),
            months=int(scores["horizon_months"].iloc[0]),
        ),
        table=pd.DataFrame(rows),
    )


def _top_table(top: pd.DataFrame, currency: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("clv.col_customer"): top["customer_id"].astype(str),
            t("clv.col_clv"): [
                format_currency(float(v), str(c or currency))
                for v, c in zip(top["clv"], top["currency"], strict=True)
            ],
            t("clv.col_alive"): [format_percent(float(v)) for v in top["probability_alive"]],
            t("clv.col_purchases"): [
                format_number(float(v), digits=2) for v in top["expected_purchases"]
            ],
        }
    )


def _metrics_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """The holdout errors with translated headers, quantities and methods."""
    shown = ("quantity", "method", "mae", "spearman", "total_predicted", "total_actual")
    frame = metrics[[c for c in shown if c in metrics.columns]].copy()
    frame["quantity"] = [t(f"clv.quantity_{q}") for q in frame["quantity"]]
    frame["method"] = [t(f"clv.method_{m}") for m in frame["method"]]
    return frame.rename(columns={c: t(f"clv.col_{c}") for c in frame.columns})
