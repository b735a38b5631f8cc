"""Helpers shared by the metric, backend and report tests: hand-made frames and loading."""

from __future__ import annotations

from typing import Any

import pandas as pd

import retain.warehouse as wh


def orders_frame(rows: list[tuple[str, str, float] | tuple[str, str, float, str]]) -> pd.DataFrame:
    """``(customer_id, ordered_at, amount[, status])`` rows as a canonical orders frame."""
    out = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "ordered_at": pd.to_datetime([r[1] for r in rows], format="ISO8601").astype(
                "datetime64[us]"
            ),
            "amount": [float(r[2]) for r in rows],
            "status": [r[3] if len(r) > 3 else "completed" for r in rows],  # type: ignore[misc]
        }
    )
    return out


def load(con: Any, name: str, frame: pd.DataFrame) -> Any:
    """Write ``frame`` as table ``name`` and return the Ibis table."""
    if wh.backend_name(con) == "pyspark":  # a plain create: Spark renames are slow
        con.create_table(name, frame, overwrite=True)
    else:
        wh.write_table(con, name, frame)
    return con.table(name)
