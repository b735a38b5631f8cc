"""The report's offer-plan section on the small scored business of ``_targeting_data``."""

from __future__ import annotations

from typing import Any

from retain.config import Settings
from retain.i18n import set_language
from retain.report.offers import BUDGET_SHARE, report_sections
from retain.targeting.offers import plan_offers, planning_customers


def test_section_plans_with_the_stated_default_budget(scored: Any) -> None:
    settings = Settings()
    [section] = report_sections(scored, settings)
    assert section.key == "offers"
    # Value at risk of the latest "default" run: 580 (see _targeting_data); 5% of it is $29.
    assert f"${BUDGET_SHARE * 580:.2f}" == "$29.00"
    assert "$29.00" in section.summary
    assert "No campaign history" in section.summary
    customers = planning_customers(scored, definition="default")
    plan = plan_offers(customers, budget=29.0, settings=settings.offers)
    _actions, left, targets = section.items
    assert left.table is not None and targets.table is not None
    assert len(targets.table) == min(20, plan.summary.targets)
    counts = dict(zip(left.table.iloc[:, 0], left.table.iloc[:, 1], strict=True))
    assert counts["Not worth the cost"] == str(plan.summary.left_out["not_worth_cost"])


def test_japanese_section(scored: Any) -> None:
    set_language("ja")
    try:
        [section] = report_sections(scored, Settings())
    finally:
        set_language("en")
    assert section.title == "オファー計画"
    assert "キャンペーン履歴がない" in section.summary


def test_no_scores_no_section(warehouse: Any) -> None:
    assert report_sections(warehouse, Settings()) == []
