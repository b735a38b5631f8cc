"""The "Churn risk" sections of ``retain report``: one per business line ([[churn]] section).

Each line's section reads that line's newest registered churn model and its latest scores:
evaluation, calibration, lift and the reasons summarised by family ("Contract type",
"Failed payments") with a translated label. A line with no model trained yet gets no section,
by an explicit check, not by an error.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

import retain.warehouse as wh
from retain.i18n import catalog, format_number, format_percent, get_language, t
from retain.models.churn import Backtest
from retain.models.churn.reasons import parse_stored_reasons
from retain.models.churn.reasons.labels import Labels, active_labels, attribute_words, humanise
from retain.models.registry import ModelRegistry
from retain.report.section import Figure, Section

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = ["evaluation_table", "reason_family", "report_sections"]

_COLUMNS = ("roc_auc", "pr_auc", "brier", "lift_10", "recall_10", "lift_20", "recall_20")


def evaluation_table(result: Backtest) -> pd.DataFrame:
    """The model and its baselines side by side, with translated model names."""
    frame = result.metrics.copy()
    frame["model"] = [t(f"churn.model_{name}") for name in frame["model"]]
    cols = ["model", *(c for c in _COLUMNS if c in frame.columns)]
    return frame[cols].round(4).rename(columns={c: t(f"report.eval_{c}") for c in cols})


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


def reason_family(key: str, params: dict[str, Any], labels: Labels | None = None) -> str:
    """The family a stored reason belongs to, in words of the current language.

    An attribute reason reads as its attribute's label ("Contract type"), a feature reason as
    the feature humanised, any other reason key as its family label in the report catalog
    (``report.reason_family_<name>``), never as the key itself.
    """
    lang = get_language()
    name = key.removeprefix("reasons.")
    if key == "reasons.attribute":
        return attribute_words(str(params.get("name", "")), "", lang, labels or active_labels())[0]
    if key == "reasons.feature":
        return humanise(str(params.get("feature", "")))
    label = f"report.reason_family_{name}"
    if label in catalog(lang) or label in catalog("en"):
        return t(label)
    return humanise(name)


_CV = re.compile(r"(\d+) x repeated stratified (\d+)-fold.*?(\d+) bootstrap")


def _evaluation_reading(result: Backtest, card: Mapping[str, Any]) -> tuple[str, str]:
    """The evaluation's title and reading, describing the protocol that was actually run.

    One reference date (a snapshot such as IBM Telco) is evaluated by repeated cross-validation
    on that date, which says nothing about later dates; several are evaluated by rolling
    origins, on later dates the model never saw.
    """
    best = result.metrics.set_index("model")
    others = best.drop(index="model")
    common = {
        "auc": format_number(float(best.loc["model", "roc_auc"]), digits=3),  # type: ignore[arg-type]
        "best": t(f"churn.model_{others['roc_auc'].idxmax()}") if len(others) else "-",
        "best_auc": format_number(float(others["roc_auc"].max()), digits=3) if len(others) else "-",
    }
    dates = [str(d) for d in card.get("reference_dates") or []]
    if len(dates) == 1:
        found = _CV.search(result.protocol)
        if found is None:
            return t("churn.title_eval_cv"), t(
                "churn.reading_eval_cv_plain", date=dates[0], **common
            )
        repeats, folds, boot = found.groups()
        reading = t(
            "churn.reading_eval_cv",
            date=dates[0],
            repeats=repeats,
            folds=folds,
            boot=format_number(int(boot)),
            **common,
        )
        return t("churn.title_eval_cv"), reading
    tests = (
        sorted(pd.to_datetime(result.by_origin["as_of"]).unique())
        if "as_of" in result.by_origin.columns
        else []
    )
    reading = t(
        "churn.reading_eval",
        tests=len(tests),
        dates=len(dates),
        first=str(pd.Timestamp(tests[0]).date()) if tests else "-",
        horizon=card.get("definition", {}).get("horizon_days", "-"),
        **common,
    )
    return t("churn.title_eval"), reading


def _reason_counts(con: Any, version: str, line: str) -> pd.DataFrame | None:
    """How many customers have each reason family as their first reason (latest scoring run)."""
    if con is None or not wh.table_exists(con, "churn_scores"):
        return None
    scores = wh.read_table(con, "churn_scores")
    scores = scores.filter((scores.model_version == version) & (scores.definition == line))
    rows = scores.filter(scores.as_of == scores.as_of.max()).select("reasons").to_pandas()
    counts: Counter[str] = Counter()
    labels = active_labels()
    for text in rows["reasons"].dropna():
        for reason in parse_stored_reasons(text)[:1]:
            counts[reason_family(reason.key, reason.params, labels)] += 1
    if not counts:
        return None
    total = sum(counts.values())
    return pd.DataFrame(
        [
            {
                t("report.reason_family"): family,
                t("report.reason_customers"): format_number(n),
                t("report.reason_share"): format_percent(n / total),
                "_n": n,
            }
            for family, n in counts.most_common(10)
        ]
    )


def report_sections(con: Any, settings: Settings) -> list[Section]:
    """One churn section per configured business line with a trained model (else none)."""
    registry = ModelRegistry(settings.models_dir)
    several = len(settings.churn) > 1
    sections: list[Section] = []
    for definition in settings.churn:
        cards = registry.cards("churn", name=definition.name)
        if cards:
            sections.append(_line_section(con, cards[0].data, definition.name, several=several))
    return sections


def _line_section(con: Any, card: Mapping[str, Any], line: str, *, several: bool) -> Section:
    """The churn section of one business line's newest model ``card``."""
    items: list[Figure] = []
    if card.get("backtest"):
        result = Backtest.from_dict(card["backtest"])
        table = evaluation_table(result)
        title, reading = _evaluation_reading(result, card)
        items.append(Figure(title, reading, table=table))
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
    reasons = _reason_counts(con, card["version"], line)
    if reasons is not None and not reasons.empty:
        import plotly.graph_objects as go

        family = t("report.reason_family")
        fig = go.Figure(go.Bar(x=reasons["_n"], y=reasons[family], orientation="h"))
        fig.update_layout(
            yaxis={"autorange": "reversed", "automargin": True},
            xaxis_title=t("churn.customers"),
        )
        top = reasons.iloc[0]
        items.append(
            Figure(
                t("report.reasons_title"),
                t(
                    "report.reasons_reading",
                    family=top[family],
                    customers=top[t("report.reason_customers")],
                    share=top[t("report.reason_share")],
                ),
                figure=fig,
                table=reasons.drop(columns="_n"),
            )
        )
    summary = t(
        "churn.summary",
        version=card["version"],
        definition=card["definition"]["name"],
        horizon=card["definition"]["horizon_days"],
    )
    key = f"churn-{_slug(line)}" if several else "churn"
    title = t("report.churn_line_title", title=t("churn.title"), line=line)
    return Section(key, title, summary, items)


def _slug(name: str) -> str:
    """``name`` as an HTML anchor: letters, digits and ``-``."""
    return "".join(c if c.isalnum() else "-" for c in name.lower()) or "line"
