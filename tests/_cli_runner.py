"""Run ``retain`` commands in-process against a project's retain.toml (shared by CLI tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from retain.cli import app
from retain.cli._app import state
from retain.i18n import set_language


def make_invoker(config: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """A function running ``retain --config CONFIG *args`` with fresh settings each call."""
    runner = CliRunner()

    def run(*args: str) -> Any:
        monkeypatch.setattr(state, "_settings", None)  # settings are built once per process
        result = runner.invoke(app, ["--config", str(config), *args], env={"COLUMNS": "200"})
        set_language("en")
        return result

    return run
