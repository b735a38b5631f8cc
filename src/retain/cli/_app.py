"""The Typer application and the per-run state shared by every command."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from rich.console import Console

from retain.config import Settings, get_settings
from retain.i18n import set_language

__all__ = ["app", "console", "err_console", "settings", "state"]

app = typer.Typer(
    name="retain",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    debug: bool = False
    config_path: str | None = None
    lang: str | None = None
    _settings: Settings | None = None


state = _State()


def settings() -> Settings:
    """The settings of this run (``--config`` / retain.toml / RETAIN_*), built once."""
    if state._settings is None:
        state._settings = get_settings(state.config_path)
        if not state.lang:
            set_language(state._settings.language)
    return state._settings
