"""#16 items 2 and 7: a churn section per business line, reasons by family, readable numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from metric_tables import load, orders_frame

import retain.warehouse as wh
from retain import metrics
from retain.config import ChurnDefinition, Settings
from retain.i18n import language
from retain.report import build_report, charts, render_report
from retain.report.html import cell_text


@pytest.fixture
def con(tmp_path: Path) -> Any:
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    yield con
    con.disconnect()


def _card(models: Path, version: str, line: str, created: str) -> None:
    folder = models / "churn" / version
    folder.mkdir(parents=True)
    card = {
        "version": version,
        "created_at": created,
        "definition": {"name": line, "horizon_days": 90 if line == "shop" else 30},
    }
    (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")


def _reasons(*items: tuple[str, dict[str, Any]]) -> str:
    return json.dumps([{"key": k, "params": p, "contribution": 0.5} for k, p in items])


def _scores(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """``(customer_id, definition, model_version, reasons)`` rows scored on 2024-03-01."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "as_of": pd.Timestamp("2024-03-01"),
            "definition": [r[1] for r in rows],
            "probability": 0.8,
            "risk_band": "high",
            "reasons": [r[3] for r in rows],
            "model_version": [r[2] for r in rows],
            "scored_at": pd.Timestamp("2024-03-02"),
        }
    )


@pytest.fixture
def two_lines(con: Any, tmp_path: Path) -> Settings:
    """A shop line and a subscription line, each with its own model; the shop's is older."""
    models = tmp_path / "models"
    _card(models, "v-shop", "shop", "2024-03-01T00:00:00+00:00")
    _card(models, "v-sub", "subscription", "2024-03-05T00:00:00+00:00")
    tenure = [("reasons.attribute", {"name": "tenure", "value": str(n)}) for n in (9, 10, 11)]
    load(
        con,
        "churn_scores",
        _scores(
            [
                ("a", "shop", "v-shop", _reasons(("reasons.inactive", {"days": 120}))),
                ("b", "shop", "v-shop", _reasons(("reasons.inactive", {"days": 200}))),
                ("c", "subscription", "v-sub", _reasons(("reasons.no_contract", {}))),
                *[
                    (f"t{i}", "subscription", "v-sub", _reasons(reason))
                    for i, reason in enumerate(tenure)
                ],
            ]
        ),
    )
    return Settings(
        models_dir=models,
        churn=[
            ChurnDefinition(name="shop", horizon_days=90),
            ChurnDefinition(name="subscription", kind="contractual", horizon_days=30),
        ],
    )


def test_every_business_line_has_its_own_churn_section(con: Any, two_lines: Settings) -> None:
    sections = {s.key: s for s in build_report(con, two_lines)}
    assert "churn-shop" in sections and "churn-subscription" in sections
    shop, sub = sections["churn-shop"], sections["churn-subscription"]
    assert "shop" in shop.title and "v-shop" in shop.summary
    assert "subscription" in sub.title and "v-sub" in sub.summary
    # the shop section counts the shop line's scores only
    table = shop.items[-1].table
    assert table is not None and table.iloc[:, 1].tolist() == ["2"]


@pytest.mark.parametrize(
    ("lang", "tenure", "no_contract"),
    [
        ("en", "Months as a customer", "No committed contract"),
        ("ja", "契約月数", "契約期間の縛りなし"),
    ],
)
def test_reasons_are_counted_by_family_with_a_label_never_a_key(
    con: Any,
    two_lines: Settings,
    lang: str,
    tenure: str,
    no_contract: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the Telco recipe loaded this project's data, so its labels apply here
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RETAIN_CONFIG", raising=False)
    (tmp_path / ".retain").mkdir()
    (tmp_path / ".retain" / "recipes").write_text("telco\n", encoding="utf-8")
    with language(lang):
        sections = build_report(con, two_lines)
        html = render_report(sections, title="r", lang=lang)
    sub = next(s for s in sections if s.key == "churn-subscription")
    table = sub.items[-1].table
    assert table is not None
    families = dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    # three customers whose first reason is their tenure are one family, not "tenure: 9"
    assert families[tenure] == "3"
    assert families[no_contract] == "1"
    assert "reasons." not in html
    assert not re.search(r"tenure: \d", html)


def test_tables_format_numbers_per_locale() -> None:
    assert cell_text(7043.0) == "7,043"
    assert cell_text(30811.0) == "30,811"
    assert cell_text(0.84123) == "0.841"
    assert cell_text(299060.1699999903) == "299,060.17"
    assert cell_text(float("nan")) == "-"
    assert cell_text(float("inf")) == "∞"
    frame = pd.DataFrame({"customers": [7043.0], "share": [12.5]})
    html = render_report([], title="t")
    assert "7,043.00" not in html
    from retain.report import Figure, Section

    html = render_report([Section("x", "X", "", [Figure("t", "r", table=frame)])], title="t")
    assert "<td>7,043</td>" in html and "7,043.00" not in html


ORDERS = [
    (c, (pd.Timestamp("2023-01-05") + pd.DateOffset(months=m)).strftime("%Y-%m-%d"), 10.0 + m)
    for c in ("a", "b", "c")
    for m in range(14 if c == "a" else 2)
]


def test_heatmaps_show_every_period_in_percent_and_lifecycle_is_not_negative(con: Any) -> None:
    orders = load(con, "orders", orders_frame(ORDERS))
    logo = charts.plot_cohort_heatmap(metrics.cohort_retention(orders), kind="logo")
    revenue = charts.plot_cohort_heatmap(
        metrics.cohort_retention(orders, kind="revenue"), kind="revenue"
    )
    for fig in (logo, revenue):
        heat = fig.data[0]
        assert len(heat.x) == 14  # 14 periods since acquisition, every one labelled
        assert list(fig.layout.xaxis.tickvals) == list(heat.x)
        assert heat.colorbar.ticksuffix == "%" and (heat.zmin, heat.zmax) == (0, 100)
    # revenue retention: a's month-13 revenue (23) over the cohort's month-0 revenue (30)
    z = revenue.data[0].z
    assert z[0][0] == pytest.approx(100.0)
    assert z[0][13] == pytest.approx(23 / 30 * 100)
    life = charts.plot_lifecycle(metrics.lifecycle(orders))
    assert all(min(bar.y) >= 0 for bar in life.data if len(bar.y))
    assert life.layout.barmode == "stack"
