"""``retain demo``: build the demo business, write its files, load it into the warehouse."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

import retain.warehouse as wh
from retain.cli._app import app, console, settings
from retain.cli._progress import progress
from retain.i18n import format_number, t

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings
    from retain.demo import DemoSummary

__all__ = ["demo"]


class FileFormat(StrEnum):
    """File formats ``retain demo`` writes."""

    csv = "csv"
    parquet = "parquet"


@app.command()
def demo(
    customers: Annotated[
        int, typer.Option("--customers", help="Customers acquired over the window.")
    ] = 20_000,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; the same seed gives the same data.")
    ] = 7,
    months: Annotated[int, typer.Option("--months", help="Length of the window in months.")] = 24,
    start: Annotated[
        str, typer.Option("--start", help="First day of the window, YYYY-MM-DD.")
    ] = "2024-01-01",
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the table and truth files.")
    ] = Path("demo-data"),
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="File format of the tables.")
    ] = FileFormat.csv,
    no_load: Annotated[
        bool, typer.Option("--no-load", help="Only write the files; do not load the warehouse.")
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Empty the warehouse's tables first even if they hold other data."
        ),
    ] = False,
    run_pipeline: Annotated[
        bool,
        typer.Option("--run-pipeline", help="After loading, run every pipeline stage available."),
    ] = False,
) -> None:
    """Generate a demo company with known ground truth and load it into the warehouse."""
    from retain.demo import write_demo
    from retain.demo.generate import validate_options

    validate_options(customers, seed, start, months)
    with progress() as bar:
        tasks: list[Any] = []

        def advance(_step: str, done: int, total: int) -> None:
            # The task appears with the first chunk, so a refused option prints no empty bar.
            if not tasks:
                tasks.append(bar.add_task(t("demo.generating"), total=total, rate=""))
            bar.update(tasks[0], completed=done)

        summary = write_demo(
            out,
            customers=customers,
            seed=seed,
            start=start,
            months=months,
            format=file_format.value,
            on_progress=advance,
        )
    console.print(t("demo.written", folder=str(out)))
    if no_load:
        console.print(_summary_table(summary, None))
        console.print(t("demo.not_loaded", folder=str(out)))
        return
    _ensure_demo_config()
    conf = settings()
    con = wh.connect(settings=conf)
    reports = _load(out, con, conf, file_format.value, replace=replace)
    console.print(_summary_table(summary, reports))
    _plant_playbooks(con, conf, seed=seed, start=start, months=months, out=out)
    if run_pipeline:
        _pipeline(con, conf)
    else:
        console.print(t("demo.next_steps"))


def _load(out: Path, con: BaseBackend, conf: Settings, fmt: str, *, replace: bool) -> list[Any]:
    from retain.demo import load_folder

    with console.status(t("demo.loading_start")) as status:

        def on_table(name: str) -> None:
            status.update(t("demo.loading", table=name))

        return load_folder(
            out,
            con=con,
            settings=conf,
            on_table=on_table,
            format=fmt,  # type: ignore[arg-type]
            replace=replace,
        )


def _plant_playbooks(
    con: BaseBackend, conf: Settings, *, seed: int, start: str, months: int, out: Path
) -> None:
    """The past runs of the shipped playbooks, with the demo's planted effects (see the module)."""
    from retain.cli._demo_playbooks import plant_playbook_history
    from retain.demo.generate import validate_options

    with console.status(t("demo_playbooks.planting")):
        history = plant_playbook_history(
            con,
            conf,
            seed=seed,
            start=validate_options(1, seed, start, months),
            months=months,
            folder=out,
        )
    console.print(
        t(
            "demo_playbooks.planted",
            runs=len(history.runs),
            messages=format_number(history.messages),
            holdouts=format_number(history.holdouts),
            orders=format_number(history.orders),
        )
    )


def _summary_table(summary: DemoSummary, reports: list[Any] | None) -> Table:
    title = t("demo.summary_title") if reports is not None else t("demo.summary_title_files")
    table = Table(title=title, title_justify="left")
    table.add_column(t("demo.col_table"))
    table.add_column(t("demo.col_rows"), justify="right")
    if reports is not None:
        table.add_column(t("demo.col_loaded"), justify="right")
        table.add_column(t("demo.col_rejected"), justify="right")
        for report in reports:
            loaded = report.rows_inserted + report.rows_updated + report.rows_unchanged
            table.add_row(
                report.table,
                format_number(summary.rows.get(report.table, report.rows_read)),
                format_number(loaded),
                format_number(report.rows_rejected),
            )
    else:
        for name, rows in summary.rows.items():
            table.add_row(name, format_number(rows))
    table.add_section()
    blanks = [""] * (2 if reports is not None else 0)
    table.add_row(t("demo.customers_alive"), format_number(summary.customers_alive), *blanks)
    table.add_row(t("demo.customers_churned"), format_number(summary.customers_churned), *blanks)
    table.add_row(t("demo.campaigns"), format_number(summary.campaigns), *blanks)
    return table


def _pipeline(con: BaseBackend, conf: Settings) -> None:
    """Run every later stage on the loaded demo (lifetime value, churn, report, login)."""
    from retain.cli._pipeline import run_demo_pipeline

    run_demo_pipeline(con, conf, console)


def _ensure_demo_config() -> None:
    """Write a retain.toml with the demo's two business lines when there is no configuration.

    Later commands (``retain churn train``, ``retain serve``) then use the same definitions the
    pipeline used.
    """
    from retain.cli._app import state
    from retain.cli._pipeline import demo_config_text
    from retain.config import CONFIG_ENV, DEFAULT_CONFIG

    if state.config_path or CONFIG_ENV in os.environ or Path(DEFAULT_CONFIG).exists():
        return
    Path(DEFAULT_CONFIG).write_text(demo_config_text(), encoding="utf-8")
    console.print(t("demo.config_written", path=DEFAULT_CONFIG))
