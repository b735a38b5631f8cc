"""The one place where errors become exit codes and readable lines."""

from __future__ import annotations

import sys
import traceback

import typer
from rich.markup import escape

from retain.cli._app import err_console, settings, state
from retain.errors import RetainError
from retain.i18n import t

__all__ = ["run_app"]

USER_ERROR = 2
BUG = 1


def _print_error(message: str, hint: str | None) -> None:
    # Messages are plain text: "[[churn]]" or a file name in brackets must not read as markup.
    err_console.print(
        f"[bold red]{t('cli.error')}:[/] {escape(message)}",
        highlight=False,
        markup=True,
        soft_wrap=True,
    )
    if hint:
        err_console.print(
            f"[bold]{t('cli.hint')}:[/] {escape(hint)}", highlight=False, soft_wrap=True
        )


def _held(exc: Exception) -> RetainError | None:
    """DuckDB's lock or read-only error as the warehouse's busy error (who holds it), if it is one.

    ``retain.warehouse`` raises that error itself for the writes it makes; this catches writes
    made straight on the connection through a file another process (``retain serve``) holds.
    """
    text = str(exc)
    if "read-only mode" not in text and "Could not set lock" not in text:
        return None
    from retain import warehouse as wh

    try:
        path = wh.duckdb_path(settings().warehouse_url)
    except RetainError:
        return None
    return wh.busy_error(path, text) if path else None


def run_app(app: typer.Typer) -> None:
    """Run ``app``; turn RetainError into exit 2 and other exceptions into exit 1."""
    debug = "--debug" in sys.argv[1:]
    try:
        app(standalone_mode=False)
    except RetainError as exc:
        if debug or state.debug:
            traceback.print_exc()
        _print_error(exc.message, exc.hint)
        sys.exit(USER_ERROR)
    except typer.Abort:
        err_console.print(t("cli.aborted"))
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:
        # Usage errors (unknown command, bad option value) from Typer's own Click.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _print_error(str(exc), None)
        code = getattr(exc, "exit_code", USER_ERROR)
        sys.exit(code if isinstance(code, int) else USER_ERROR)
    except KeyboardInterrupt:
        err_console.print(t("cli.aborted"))
        sys.exit(130)
    except Exception as exc:
        if debug or state.debug:
            traceback.print_exc()
        held = _held(exc)
        if held is not None:
            _print_error(held.message, held.hint)
            sys.exit(USER_ERROR)
        _print_error(f"{type(exc).__name__}: {exc}", t("cli.bug_hint"))
        sys.exit(BUG)
