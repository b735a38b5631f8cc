"""``retain report -o report.html``: one self-contained HTML report of the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import retain.warehouse as wh
from retain.cli._app import app, console, settings
from retain.i18n import get_language, language, t

__all__ = ["report"]


@app.command("report")
def report(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the HTML file (default: reports_dir/report.html).",
        ),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Language of the report: en, ja or ko (default: the CLI's)."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Title of the report.")] = None,
) -> None:
    """Write KPIs, retention, cohorts, lifecycle, MRR and survival curves to one HTML file."""
    from retain.report import build_report, render_report

    conf = settings()
    if output is None:
        output = conf.reports_dir / "report.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    code = lang or get_language()
    with language(code) as chosen:
        con = wh.connect(settings=conf)
        sections = build_report(con, conf)
        text = render_report(sections, title=title or t("report.title"), lang=chosen)
    output.write_text(text, encoding="utf-8")
    console.print(
        t(
            "report.written",
            path=str(output),
            sections=len(sections),
            size=len(text.encode()) // 1024,
        ),
        highlight=False,
    )
