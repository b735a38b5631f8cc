"""Loading the demo into the warehouse: the tables through ingestion, the truth as plain tables.

The canonical tables go through the public ingestion API (:func:`retain.ingest.ingest`), exactly
as a user's own exports would, so the demo exercises validation and idempotent loading. The
truth is not canonical data: it is written as ``demo_truth_customers`` and
``demo_truth_campaigns`` with :func:`retain.warehouse.write_table`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

import retain.warehouse as wh
from retain.errors import ConflictError, NotFoundError
from retain.i18n import t

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["TRUTH_TABLES", "load_folder", "load_sources"]

TRUTH_TABLES = {
    "demo_truth_customers": "truth_customers",
    "demo_truth_campaigns": "truth_campaigns",
    "demo_truth_playbooks": "truth_playbooks",
    "demo_truth_playbook_customers": "truth_playbook_customers",
}
"""Warehouse table -> truth file stem."""

_LOAD_ORDER = ("customers", "orders", "order_lines", "subscriptions", "events", "interactions")


def load_sources(
    sources: Mapping[str, Any],
    truth_customers: pd.DataFrame | pa.Table,
    truth_campaigns: pd.DataFrame | pa.Table,
    *,
    con: BaseBackend | None = None,
    settings: Settings | None = None,
    on_progress: Callable[..., Any] | None = None,
    on_table: Callable[[str], None] | None = None,
    replace: bool = False,
) -> list[Any]:
    """Ingest each canonical source (frame or file) in load order, then write the truth tables.

    A warehouse that already holds a demo (it has ``demo_truth_customers``) is emptied first,
    so a new demo never mixes with an old one. A warehouse holding other data is left alone
    and a :class:`~retain.errors.ConflictError` raised, unless ``replace`` is true.
    ``on_table(name)`` is called before each table is loaded (the CLI names the step).
    """
    from retain.ingest import ingest

    if settings is None:
        from retain.config import get_settings

        settings = get_settings()
    if con is None:
        con = wh.connect(settings=settings)
    _make_room(con, replace=replace)
    reports = []
    for name in _LOAD_ORDER:
        if on_table is not None:
            on_table(name)
        kwargs: dict[str, Any] = {"con": con, "settings": settings}
        if on_progress is not None:
            kwargs["on_progress"] = on_progress
        reports.append(ingest(name, sources[name], **kwargs))
    for table_name, frame in (
        ("demo_truth_customers", truth_customers),
        ("demo_truth_campaigns", truth_campaigns),
    ):
        arrow = (
            frame
            if isinstance(frame, pa.Table)
            else pa.Table.from_pandas(frame, preserve_index=False)
        )
        wh.write_table(con, table_name, arrow)
    return reports


def _has_rows(con: BaseBackend, name: str) -> bool:
    return wh.table_exists(con, name) and int(con.table(name).count().execute()) > 0


def _make_room(con: BaseBackend, *, replace: bool) -> None:
    """Empty the canonical tables when they hold an earlier demo (or ``replace``)."""
    holds_data = any(_has_rows(con, name) for name in _LOAD_ORDER)
    if holds_data and not replace and not wh.table_exists(con, "demo_truth_customers"):
        raise ConflictError(t("demo.warehouse_not_empty"), hint=t("demo.warehouse_not_empty_hint"))
    if holds_data:
        for name in (*_LOAD_ORDER, *TRUTH_TABLES):
            wh.drop_table(con, name)
    wh.create_tables(con)


def _truth_file(folder: Path, stem: str) -> pa.Table:
    path = folder / f"{stem}.csv"
    if not path.is_file():
        raise NotFoundError(t("demo.missing_file", path=str(path)), hint=t("demo.missing_hint"))
    table = pacsv.read_csv(path)
    # A column with no value at all (no reactivation yet) reads as type null; give it its type.
    for i, column in enumerate(table.schema):
        if pa.types.is_null(column.type):
            kind = pa.timestamp("us") if column.name.endswith("_at") else pa.string()
            table = table.set_column(i, column.name, table.column(i).cast(kind))
    return table


def load_folder(
    folder: str | Path,
    *,
    con: BaseBackend | None = None,
    settings: Settings | None = None,
    on_progress: Callable[..., Any] | None = None,
    on_table: Callable[[str], None] | None = None,
    format: Literal["csv", "parquet"] | None = None,
    replace: bool = False,
) -> list[Any]:
    """Load a folder written by ``retain demo`` (or :func:`~retain.demo.write_demo`).

    Each canonical table is read from ``<table>.csv`` or ``<table>.parquet`` by ingestion
    (streaming, bounded memory); with ``format`` left out, the newer of the two is used. The
    truth comes from ``truth_customers.csv`` and ``truth_campaigns.csv``. See
    :func:`load_sources` for ``replace``.
    """
    root = Path(folder)
    sources: dict[str, Path] = {}
    for name in _LOAD_ORDER:
        exts = (format,) if format else ("csv", "parquet")
        found = [root / f"{name}.{ext}" for ext in exts if (root / f"{name}.{ext}").is_file()]
        if not found:
            raise NotFoundError(
                t("demo.missing_file", path=str(root / f"{name}.{exts[0]}")),
                hint=t("demo.missing_hint"),
            )
        sources[name] = max(found, key=lambda path: path.stat().st_mtime)
    return load_sources(
        sources,
        _truth_file(root, "truth_customers"),
        _truth_file(root, "truth_campaigns"),
        con=con,
        settings=settings,
        on_progress=on_progress,
        on_table=on_table,
        replace=replace,
    )
