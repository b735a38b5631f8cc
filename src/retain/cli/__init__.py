"""The ``retain`` command line: one Typer app, one module per command group, one error boundary.

Commands are thin: parse, show progress, call the library, print a translated summary. Errors a
user can cause (:class:`retain.errors.RetainError`) print as ``Error: ...`` and ``Hint: ...`` on
stderr with exit code 2; anything else is a bug and exits 1. Tracebacks appear only with
``--debug``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from retain.cli._app import app, state
from retain.cli._boundary import run_app
from retain.i18n import set_language

__all__ = ["app", "main"]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Language of messages: en, ja or ko (default: retain.toml).",
            envvar="RETAIN_LANG",
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config", help="Path of retain.toml (default: ./retain.toml).", envvar="RETAIN_CONFIG"
        ),
    ] = None,
) -> None:
    """retain: keep your customers. Measure churn, value customers, predict who leaves and why."""
    state.debug = debug
    state.config_path = config
    state.lang = lang
    if lang:
        set_language(lang)


# Command groups register themselves on import, in the order `retain --help` lists them:
# set up, load, measure, value, predict, serve.
from retain.cli import (  # noqa: E402, F401  # isort: skip
    init,
    demo,
    ingest,
    metrics,
    report,
    clv,
    churn,
    segments,
    playbooks,
    plan,
    uplift,
    voice,
    surveys,
    serve,
    worker,
    savedesk,
)


def main() -> None:
    """Entry point of the ``retain`` script."""
    run_app(app)
