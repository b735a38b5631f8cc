"""Run ``retain`` commands in-process against a project's retain.toml (shared by CLI tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from retain.cli import app
from retain.cli._app import console as cli_console
from retain.cli._app import err_console as cli_err_console
from retain.cli._app import state
from retain.i18n import set_language


def make_invoker(config: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """A function running ``retain --config CONFIG *args`` with fresh settings each call."""
    runner = CliRunner()
    # The CLI's consoles read COLUMNS once, at import; under pytest-xdist a worker imports them
    # with COLUMNS=80 and tables wrap ("logistic / regression"), so set the width directly.
    for console in (cli_console, cli_err_console):
        monkeypatch.setattr(console, "width", 200)

    def run(*args: str) -> Any:
        monkeypatch.setattr(state, "_settings", None)  # settings are built once per process
        result = runner.invoke(app, ["--config", str(config), *args], env={"COLUMNS": "200"})
        set_language("en")
        return result

    return run
