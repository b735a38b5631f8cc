"""The report's segments section: absent without memberships, sizes and movement with them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import retain.warehouse as wh
from retain.config import Settings
from retain.i18n import language
from retain.report import segments
from retain.report.contents import SECTIONS, build_report
from retain.targeting.segments import movement_matrix, rfm_scores, store_memberships

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targeting" / "segments"))
from _segment_data import AS_OF, ROWS, orders_frame

EARLIER = "2024-06-05"


@pytest.fixture
def shop(warehouse: Any) -> Any:
    wh.write_table(warehouse, "orders", orders_frame(ROWS))
    return warehouse


def test_no_section_before_memberships_are_stored(shop: Any) -> None:
    assert segments.report_sections(shop, Settings()) == []
    assert "segments" in [p.key for p in SECTIONS]


def test_one_date_gives_the_sizes_only(shop: Any) -> None:
    store_memberships(shop, "rfm", AS_OF, rfm_scores(shop.table("orders"), AS_OF))
    (section,) = segments.report_sections(shop, Settings())
    assert section.key == "segments"
    (sizes,) = section.items
    assert sizes.table is not None
    counts = dict(zip(sizes.table.iloc[:, 0], sizes.table.iloc[:, 1], strict=True))
    assert counts["Champions"] == 2 and counts["Lost"] == 1
    assert sum(counts.values()) == 10


@pytest.mark.parametrize(
    ("lang", "title", "champions"),
    [("en", "Customer segments", "Champions"), ("ja", "顧客セグメント", "優良顧客"),
     ("ko", "고객 세그먼트", "최우수 고객")],
)  # fmt: skip
def test_two_dates_add_the_movement_matrix(
    shop: Any, lang: str, title: str, champions: str
) -> None:
    orders = shop.table("orders")
    for day in (EARLIER, AS_OF):
        store_memberships(shop, "rfm", day, rfm_scores(orders, day))
    want = movement_matrix(shop, "rfm", EARLIER, AS_OF)
    with language(lang):
        providers = [p for p in SECTIONS if p.key == "segments"]  # not by position: areas grow
        sections = build_report(shop, Settings(), providers=providers)
    (section,) = sections
    assert section.title == title
    sizes, moved = section.items
    assert sizes.table is not None and champions in sizes.table.iloc[:, 0].tolist()
    assert moved.table is not None
    assert moved.table.shape == (len(want), len(want) + 1)
    assert moved.table.iloc[:, 1:].to_numpy().sum() == want.to_numpy().sum()
    assert moved.table.iloc[0, 0] == champions
    assert int(moved.table.iloc[0, 1]) == int(want.iloc[0, 0])
