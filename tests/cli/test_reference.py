"""docs/cli.md is generated from the app; every command is documented and has help."""

from __future__ import annotations

from pathlib import Path

from retain.cli import app
from retain.cli._reference import iter_commands, render_reference

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_command_has_one_line_help() -> None:
    missing = [name for name, cmd in iter_commands(app) if not (cmd.help or "").strip()]
    assert not missing


def test_cli_reference_is_current() -> None:
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == render_reference(app), (
        "docs/cli.md is stale: run `.venv/bin/python -m retain.cli._reference > docs/cli.md`"
    )


def test_every_command_appears_in_the_guides() -> None:
    """Each command is mentioned in a hand-written page too, not only in the reference."""
    guides = "\n".join(
        p.read_text(encoding="utf-8") for p in DOCS.glob("*.md") if p.name != "cli.md"
    ) + (DOCS.parent / "README.md").read_text(encoding="utf-8")
    missing = [name for name, _ in iter_commands(app) if name not in guides]
    assert not missing, f"commands not mentioned in docs/ or README: {missing}"
