"""Rich progress bars for long-running commands (rows/s for loads, steps for pipelines)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from retain.cli._app import err_console

__all__ = ["progress"]


@contextmanager
def progress(*, transient: bool = False) -> Iterator[Progress]:
    """A progress display on stderr: bar, count, a ``rate`` field (e.g. rows/s) and elapsed time.

    Tasks must be added with a ``rate`` field: ``bar.add_task("orders", total=n, rate="")``.
    """
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
    )
    with bar:
        yield bar
