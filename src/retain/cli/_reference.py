"""The CLI reference page (docs/cli.md), generated from the Typer app so it cannot go stale.

``python -m retain.cli._reference > docs/cli.md`` rewrites it; ``tests/cli/test_reference.py``
fails when the committed page differs from what the app says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

__all__ = ["iter_commands", "render_reference"]


def iter_commands(app: typer.Typer) -> Iterator[tuple[str, Any]]:
    """Every leaf command as ``("retain clv fit", click_command)``, in registration order."""
    group = typer.main.get_command(app)

    def walk(prefix: str, command: Any) -> Iterator[tuple[str, Any]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(f"{prefix} {name}", sub)
        else:
            yield prefix, command

    yield from walk("retain", group)


def _param_line(param: Any) -> str:
    if param.param_type_name == "argument":
        name = (param.name or "").upper()
        return f"- `{name}`" + (f": {param.help}" if getattr(param, "help", None) else "")
    opts = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    help_text = getattr(param, "help", None) or ""
    default = param.default
    shown = ""
    if isinstance(default, (str, int, float)) and default not in ("", False):
        shown = f" (default: `{default}`)"
    return f"- {opts}: {help_text}{shown}".rstrip(": ")


def render_reference(app: typer.Typer) -> str:
    """Markdown listing each command, its one-line help and its arguments and options."""
    lines = [
        "# Command reference",
        "",
        "Generated from the code by `python -m retain.cli._reference > docs/cli.md`; "
        "`retain COMMAND --help` shows the same.",
        "",
        "Global options: `--debug` (tracebacks on errors), `--lang en|ja|ko`, "
        "`--config PATH` (default `./retain.toml`).",
        "",
    ]
    for name, command in iter_commands(app):
        lines.append(f"## `{name}`")
        lines.append("")
        doc = (command.help or "").strip()
        if doc:
            lines.append(doc.split("\n\n")[0].replace("\n", " "))
            lines.append("")
        params = [p for p in command.params if p.name not in {"help"}]
        lines.extend(_param_line(p) for p in params)
        if params:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    from retain.cli import app

    print(render_reference(app), end="")  # noqa: T201
