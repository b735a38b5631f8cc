"""``retain ingest``: load files into the warehouse, or a public dataset with ``--recipe``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from retain.cli._app import app, console, settings
from retain.cli._progress import progress
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.ingest import IngestProgress, IngestReport, get_recipe, ingest, load_recipe

__all__ = ["ingest_command"]

_PHASES = {
    "read": "ingest.progress_read",
    "validate": "ingest.progress_validate",
    "write": "ingest.progress_write",
}


@contextmanager
def _progress_callback() -> Iterator[Callable[[IngestProgress], None]]:
    with progress(transient=True) as bar:
        task = bar.add_task(t("ingest.progress_read"), total=None, rate="")

        def update(event: IngestProgress) -> None:
            phase = event.phase.split(":")[0]
            if phase in _PHASES:
                bar.update(
                    task,
                    description=t(_PHASES[phase]),
                    completed=event.rows,
                    rate=t("ingest.rows_per_second", rate=event.rate),
                )

        yield update


def _print(report: IngestReport) -> None:
    console.print(report.summary(), highlight=False, soft_wrap=True)
    for line in report.rejection_lines():
        console.print(line, highlight=False, soft_wrap=True)
    if report.rows_rejected:
        console.print(
            t("ingest.rejects_where", batch_id=report.batch_id), highlight=False, soft_wrap=True
        )


@app.command("ingest")
def ingest_command(
    table: Annotated[
        str | None,
        typer.Argument(
            help="Canonical table: customers, orders, order_lines, events, "
            "subscriptions, interactions, exchange_rates (omit with --recipe).",
            show_default=False,
        ),
    ] = None,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders (CSV, Excel .xlsx, Parquet, JSON Lines; .gz too).",
            show_default=False,
        ),
    ] = None,
    recipe: Annotated[
        str | None,
        typer.Option(
            "--recipe",
            help="Load a public dataset as published: cdnow, telco, "
            "hillstrom, airline-tweets, online-retail-ii.",
        ),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="TOML file mapping your columns to ours.")
    ] = None,
    encoding: Annotated[
        str, typer.Option("--encoding", help="Text encoding, e.g. utf-8, cp932, shift_jis, euc-kr.")
    ] = "utf-8",
    delimiter: Annotated[
        str | None,
        typer.Option(
            "--delimiter",
            help="Field separator (detected when omitted); 'whitespace' for runs of spaces.",
        ),
    ] = None,
    date_format: Annotated[
        str | None, typer.Option("--date-format", help="strptime format, e.g. %Y/%m/%d.")
    ] = None,
    on_error: Annotated[
        str | None,
        typer.Option(
            "--on-error",
            help="reject (nothing written) or quarantine (bad rows to "
            "the rejects table). Default: retain.toml.",
        ),
    ] = None,
    unknown_customers: Annotated[
        str | None,
        typer.Option(
            "--unknown-customers",
            help="reject or create customers that facts refer to but customers lacks.",
        ),
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option(
            "--sheet", help="Sheet of Excel workbooks: a name or a number from 1 (default: first)."
        ),
    ] = None,
) -> None:
    """Load files into a warehouse table: validated first, idempotent, all or nothing."""
    cfg = settings()
    # The library checks both choices and names the allowed values.
    policy = cast(Any, on_error)
    unknown = cast(Any, unknown_customers)
    if recipe:
        found = [Path(table)] if table else []
        found += list(paths or [])
        if len(found) != 1:
            raise InvalidParameterError(
                t("ingest.recipe_one_path"), hint=t("ingest.recipe_one_path_hint")
            )
        spec = get_recipe(recipe)
        console.print(
            t("ingest.recipe_loading", name=spec.name, description=spec.description),
            highlight=False,
            soft_wrap=True,
        )
        with _progress_callback() as update:
            reports = load_recipe(
                recipe, found[0], settings=cfg, on_error=policy, on_progress=update
            )
        for report in reports:
            _print(report)
        return
    if not table or not paths:
        raise InvalidParameterError(
            t("ingest.recipe_needs_table"), hint=t("ingest.recipe_needs_table_hint")
        )
    with _progress_callback() as update:
        report = ingest(
            table,
            [str(p) for p in paths],
            settings=cfg,
            mapping=mapping,
            on_error=policy,
            encoding=encoding,
            delimiter=delimiter,
            date_format=date_format,
            unknown_customers=unknown,
            on_progress=update,
            sheet=sheet,
        )
    _print(report)


# ``retain rejects`` shows what ``--on-error quarantine`` kept aside; it registers right after
# ``ingest`` so that ``retain --help`` lists the two together.
from retain.cli import rejects as _rejects  # noqa: E402, F401  # isort: skip
