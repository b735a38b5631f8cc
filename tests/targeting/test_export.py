"""The at-risk CSV: the whole filtered list in order, contact columns only when allowed,
reasons as text, and cells a spreadsheet would run as formulas quoted."""

from __future__ import annotations

import csv
import io
from typing import Any

from retain.targeting import AtRiskQuery, at_risk, export_at_risk


def _rows(export: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(export.chunks))))


def test_export_is_the_whole_list_ignoring_page_and_cursor(scored: Any) -> None:
    first = at_risk(scored, AtRiskQuery(definition="default", limit=2), pii=False)
    query = AtRiskQuery(definition="default", limit=2, cursor=first.next_cursor)
    export = export_at_risk(scored, query, pii=False, lang="en")
    rows = _rows(export)
    assert export.total == 4 and [r["customer_id"] for r in rows] == ["a2", "a1", "a3", "a5"]
    assert "email" not in export.columns and "email" not in rows[0]
    a1 = rows[1]
    assert a1["at_risk_value"] == "180.0" and a1["as_of"] == "2024-06-30T00:00:00"
    assert a1["reasons"].startswith("2 failed payment") and rows[-1]["clv"] == ""
    assert rows[-1]["at_risk_value"] == ""  # unknown, not 0


def test_export_with_contact_quotes_formulas(scored: Any) -> None:
    export = export_at_risk(scored, AtRiskQuery(definition="default"), pii=True)
    assert export.columns[-2:] == ("email", "phone")
    assert _rows(export)[-1]["email"] == "'=cmd()"


def test_every_formula_start_is_neutralised() -> None:
    """Cells a spreadsheet would run: ASCII = + - @, their full-width forms, tab, CR, LF."""
    from retain.targeting.export import csv_cell as _cell

    ascii_ = ("=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\n=1")
    for text in (*ascii_, "＝1", "＋1", "－1", "＠A"):
        assert _cell(text) == "'" + text, text
    assert _cell("plain") == "plain" and _cell(-2.5) == -2.5  # numbers are numbers


def test_export_of_nothing_is_the_header(scored: Any) -> None:
    export = export_at_risk(scored, AtRiskQuery(definition="nobody"), pii=False)
    text = "".join(export.chunks)
    assert export.total == 0 and text.strip() == ",".join(export.columns)
