"""The report's uplift section on the demo: the newest campaign, judged on held-out customers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retain.config import Settings
from retain.demo import DemoBusiness
from retain.i18n import language
from retain.report import render_report
from retain.report.uplift import report_sections


def test_section_shows_the_newest_campaign(demo: tuple[DemoBusiness, Any], tmp_path: Path) -> None:
    business, con = demo
    settings = Settings(models_dir=tmp_path / "models")
    (section,) = report_sections(con, settings)
    assert section.key == "uplift"
    assert "CMP-05" in section.summary
    treated = business.truth.campaigns.set_index("campaign_id").loc["CMP-05", "n_treatment"]
    assert f"{treated:,}" in section.summary
    curve, policies, deciles = section.items
    names = {trace.name for trace in curve.figure.data}
    assert names == {"by predicted uplift", "random order"}  # no churn model registered
    assert len(policies.table) == 2 and len(deciles.table) == 10
    assert all(item.reading for item in section.items)
    with language("ja"):
        (ja,) = report_sections(con, settings)
    assert "キャンペーン CMP-05" in ja.summary
    html = render_report([section], title="uplift", lang="en")
    assert "Qini" in html


def test_no_campaign_no_section(tmp_path: Path) -> None:
    import retain.warehouse as wh

    con = wh.connect("duckdb://")
    wh.create_tables(con)
    assert report_sections(con, Settings(models_dir=tmp_path)) == []
