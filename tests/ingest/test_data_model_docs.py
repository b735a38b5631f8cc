"""docs/data-model.md is generated from retain.schema and must match it."""

from __future__ import annotations

from pathlib import Path

from retain.schema import CANONICAL_TABLES, DERIVED_TABLES, render_markdown

PAGE = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"
REGENERATE = (
    ".venv/bin/python -c \"import retain.schema as s; print(s.render_markdown(), end='')\" "
    "> docs/data-model.md"
)


def test_committed_page_is_the_rendered_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_markdown(), f"stale; run: {REGENERATE}"


def test_page_lists_every_table_and_column() -> None:
    page = render_markdown()
    for table in [*CANONICAL_TABLES.values(), *DERIVED_TABLES.values()]:
        assert f"### `{table.name}`" in page
        for column in table.columns:
            assert f"| `{column.name}` |" in page
    assert "| `email` | string |  | PII |" in page
