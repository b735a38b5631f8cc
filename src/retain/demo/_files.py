"""Writing the demo to files: one per canonical table, plus the truth files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from retain.demo._params import DRIVERS

__all__ = ["TRUTH_FILES", "append", "write_file", "write_small_truth"]

Format = Literal["csv", "parquet"]

TRUTH_FILES = (
    "truth_customers.csv",
    "truth_drivers.csv",
    "truth_campaigns.csv",
    "truth_campaign_customers.csv",
    "truth_spells.csv",
    "truth_params.json",
)
_OBSERVED = {
    "unresolved_complaint": "interactions complaint/ticket_opened without ticket_resolved",
    "payment_failed": "events payment_failed (subscribers)",
    "usage_decline": "events login/app_session per week fall by more than half",
    "no_contact": "customers.email_opt_in false and no message_sent for 120+ days",
}


def append(writers: dict[str, Any], path: Path, table: pa.Table, fmt: Format) -> None:
    """Append ``table`` to ``path``, opening a writer (kept in ``writers``) on first use."""
    key = str(path)
    if key not in writers:
        if fmt == "csv":
            writers[key] = pacsv.CSVWriter(path, table.schema)
        else:
            writers[key] = pq.ParquetWriter(path, table.schema)
    writers[key].write_table(table)


def write_file(table: pa.Table, path: Path, fmt: Format) -> None:
    """Write ``table`` to ``path``: CSV (UTF-8, header) or Parquet."""
    if fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)


def write_small_truth(out: Path, params: dict[str, Any]) -> None:
    """``truth_drivers.csv`` (the planted drivers, strongest first) and ``truth_params.json``."""
    lines = ["rank,name,hazard_ratio,observed_through"]
    for rank, (name, ratio) in enumerate(DRIVERS, start=1):
        lines.append(f'{rank},{name},{ratio},"{_OBSERVED[name]}"')
    (out / "truth_drivers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "truth_params.json").write_text(
        json.dumps(params, indent=2, default=str) + "\n", encoding="utf-8"
    )
