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


def _stored(con: Any, *, measured: bool) -> None:
    """Stored uplift of "reminder" for a1..a4: as scored now, or as an older version stored it."""
    import ibis
    import pandas as pd

    from retain.models.uplift.scores import store_uplift_scores
    from retain.schema import get_table

    frame = pd.DataFrame(
        {
            "customer_id": ["a1", "a2", "a3", "a4"],
            "action": "reminder",
            "uplift": 0.2,
            "uplift_honest": 0.1,
            "honest_group": "reminder/0/1",
            "honest_variance": 0.0025,
        }
    )
    if measured:
        store_uplift_scores(con, frame, campaign_id="CMP-05", as_of="2024-06-30")
        return
    schema = get_table("uplift_scores").ibis_schema()
    old = {c: t for c, t in schema.items() if c not in ("honest_group", "honest_variance")}
    con.drop_table("uplift_scores", force=True)
    con.create_table("uplift_scores", schema=ibis.schema(old))
    rows = frame.assign(
        campaign_id="CMP-05",
        model_version="old",
        as_of=pd.Timestamp("2024-06-30"),
        scored_at=pd.Timestamp("2024-07-01"),
    )
    con.insert("uplift_scores", rows[list(old)])


def test_section_shows_the_interval_of_measured_stored_uplift(scored: Any) -> None:
    _stored(scored, measured=True)
    [section] = report_sections(scored, Settings())
    assert "Uplift source: reminder: campaign CMP-05" in section.summary
    assert "95 % interval of that profit:" in section.summary
    assert "No 95 %" not in section.summary


def test_section_on_an_older_scoring_says_there_is_no_interval_and_how_to_rescore(
    scored: Any,
) -> None:
    _stored(scored, measured=False)
    set_language("ko")
    try:
        [section] = report_sections(scored, Settings())
    finally:
        set_language("en")
    assert "95 % 구간이 없습니다: reminder 의 저장된 업리프트" in section.summary
    assert "retain uplift score CAMPAIGN --store" in section.summary
