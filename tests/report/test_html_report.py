"""The HTML report: self-contained, one reading per figure, sections skipped cleanly, i18n."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest
from metric_tables import load, orders_frame

import retain.warehouse as wh
from retain import metrics
from retain.config import Settings
from retain.i18n import format_percent, language, t
from retain.report import Figure, Section, build_report, charts, render_report

ORDERS = [
    ("a", "2024-01-05", 10.0),
    ("a", "2024-02-20", 20.0),
    ("b", "2024-01-10", 5.0),
    ("b", "2024-03-02", 5.0),
    ("c", "2024-02-01", 7.0),
    ("d", "2024-03-09", 4.0),
]


def subscriptions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subscription_id": list("1234"),
            "customer_id": list("abcd"),
            "plan": ["basic", "basic", "pro", "pro"],
            "started_at": pd.to_datetime(["2024-01-10", "2024-01-15", "2024-02-01", "2024-02-03"]),
            "ended_at": pd.to_datetime(["2024-03-10", None, "2024-02-20", None]),
            "amount": [10.0, 10.0, 30.0, 30.0],
        }
    )


@pytest.fixture
def warehouse_con(tmp_path: Path) -> Any:
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    yield con
    con.disconnect()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Defaults, with a model registry of the test's own: the default ``.retain/models`` is
    relative to the working folder, where ``make demo`` leaves trained models."""
    return Settings(models_dir=tmp_path / "models")


def texts(html: str, kind: str) -> list[str]:
    return re.findall(rf'<p class="{kind}">(.*?)</p>', html)


def test_full_report_is_self_contained_with_a_reading_per_figure(
    warehouse_con: Any, settings: Settings
) -> None:
    load(warehouse_con, "orders", orders_frame(ORDERS))
    load(warehouse_con, "subscriptions", subscriptions())
    sections = build_report(warehouse_con, settings)
    assert [s.key for s in sections] == [
        "kpis",
        "retention",
        "cohorts",
        "lifecycle",
        "survival_buyers",
        "subscriptions",
        "survival",
    ]
    assert all(item.reading for s in sections for item in s.items)
    html = render_report(sections, title="Q1 <review>", lang="en")
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>Q1 &lt;review&gt;</title>" in html  # escaped
    assert not re.search(r"<script[^>]+src=", html) and "<link" not in html  # nothing fetched
    assert html.count('<script type="text/javascript">') == 1  # plotly.js inlined once
    # retention, 2 heatmaps, lifecycle, buyers' survival, MRR, subscribers' survival
    assert html.count("Plotly.newPlot") == 7
    for key in ("kpis", "cohorts", "survival_buyers", "survival"):
        assert f'id="{key}"' in html
    assert "Month-1 retention went from" in html


def test_orders_only_skips_subscription_sections_and_says_so(
    warehouse_con: Any, settings: Settings
) -> None:
    load(warehouse_con, "orders", orders_frame(ORDERS))
    sections = build_report(warehouse_con, settings)
    last = sections[-1]
    assert last.key == "subscriptions" and not last.items
    summary = (
        "No subscriptions in the warehouse: MRR and subscription survival curves are left out."
    )
    assert last.summary == summary
    # buyers still get survival: time to churn under the line's inactivity rule
    buyers = next(s for s in sections if s.key == "survival_buyers")
    assert len(buyers.items) == 2 and "days without an order" in buyers.summary


def test_subscriptions_only_counts_active_subscriptions_in_japanese(
    warehouse_con: Any, settings: Settings
) -> None:
    load(warehouse_con, "subscriptions", subscriptions())
    with language("ja"):
        sections = build_report(warehouse_con, settings)
        html = render_report(sections, title="レポート", lang="ja")
    assert '<html lang="ja">' in html
    cohorts = next(s for s in sections if s.key == "cohorts")
    assert len(cohorts.items) == 1 and "売上コホートは省略" in cohorts.summary
    assert any("アクティブ顧客" in r for r in texts(html, "reading"))


def test_empty_warehouse_and_extra_sections(warehouse_con: Any, settings: Settings) -> None:
    extra = Section(
        "extra",
        "Extra",
        "from another area",
        [Figure("A table", "one row", table=pd.DataFrame({"x": [1]}))],
    )
    sections = build_report(warehouse_con, settings, extra_sections=[extra])
    assert sections[0].summary.startswith("The warehouse has no orders and no subscriptions")
    assert sections[-1] is extra
    assert "<td>1</td>" in render_report(sections, title="t")


def test_charts_return_figures(warehouse_con: Any) -> None:
    orders = load(warehouse_con, "orders", orders_frame(ORDERS))
    subs = load(warehouse_con, "subscriptions", subscriptions())
    durations = metrics.subscription_durations(subs, by="plan")
    figures = [
        charts.plot_retention(metrics.period_metrics(orders)),
        charts.plot_cohort_heatmap(metrics.cohort_retention(orders), kind="logo"),
        charts.plot_cohort_heatmap(
            metrics.cohort_retention(orders, kind="revenue"), kind="revenue"
        ),
        charts.plot_lifecycle(metrics.lifecycle(orders)),
        charts.plot_mrr_movements(metrics.mrr_movements(subs)),
        charts.plot_survival(metrics.kaplan_meier(durations, by="plan"), by="plan"),
    ]
    assert all(isinstance(f, go.Figure) and f.data for f in figures)
    heat = figures[1].data[0]
    assert list(heat.z[0]) == [100.0, 50.0, 50.0]


@pytest.mark.parametrize(
    ("lang", "strict", "why"),
    [
        ("en", "Strict retention rate", "CRR can pass 100 %"),
        ("ja", "厳密な維持率", "CRR は 100 % を超えることがあります"),
        ("ko", "엄격한 유지율", "CRR은 100 %를 넘을 수 있습니다"),
    ],
)
def test_subscription_churn_agrees_with_mrr_and_crr_is_explained(
    warehouse_con: Any, settings: Settings, lang: str, strict: str, why: str
) -> None:
    """#16 items 8 and 9: one churn for subscribers; strict retention beside CRR, explained."""
    load(warehouse_con, "subscriptions", subscriptions())
    with language(lang):
        sections = build_report(warehouse_con, settings)
        kpis = sections[0].items[0].table
        assert kpis is not None
        values = dict(zip(kpis.iloc[:, 0], kpis.iloc[:, 1], strict=True))
        mrr = metrics.mrr_movements(warehouse_con.table("subscriptions")).to_pandas()
        # a's subscription ends on 2024-03-10: lost in March, 1 of 3 subscribers, as MRR says
        assert mrr.churned_customers.iloc[-1] == 1
        churn = format_percent(float(mrr.logo_churn_rate.iloc[-1]) / 100)
        assert values[t("report.churn_rate")] == churn
        assert values[strict] == format_percent(2 / 3)
        retention = next(s for s in sections if s.key == "retention")
        assert why in retention.summary
