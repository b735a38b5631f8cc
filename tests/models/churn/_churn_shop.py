"""A small synthetic shop with one planted churn driver, for the churn pipeline and CLI tests.

600 customers buy as Poisson processes from 2023-01 to 2024-06. A fifth of them file a complaint
that is never resolved; from then on their hazard of leaving is four times higher. Another fifth
complain and get a resolution two days later, which changes nothing. Everything is seeded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

import retain.warehouse as wh

START = pd.Timestamp("2023-01-01")
END = pd.Timestamp("2024-06-30")


def synthetic_shop(n: int = 600, seed: int = 3) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    days_total = (END - START).days
    orders: list[tuple[str, str, pd.Timestamp, float]] = []
    inter: list[tuple[str, str, pd.Timestamp, str, str]] = []
    customers = []
    for i in range(n):
        cid = f"C{i:04d}"
        acquired = rng.uniform(0, 150)
        rate = rng.gamma(2.0, 1 / 40)  # orders per day, mean 1 per 20 days
        hazard = 1 / 400
        complaint = rng.uniform(acquired + 20, days_total) if rng.random() < 0.4 else None
        unresolved = complaint is not None and rng.random() < 0.5
        t, death, k = acquired, np.inf, 0
        # Death: piecewise-constant hazard, x4 after an unresolved complaint.
        first = rng.exponential(1 / hazard)
        if unresolved and acquired + first > complaint:
            death = complaint + rng.exponential(1 / (4 * hazard))
        else:
            death = acquired + first
        while True:
            t += rng.exponential(1 / rate) if k else 0.0
            if t >= min(death, days_total):
                break
            orders.append(
                (
                    f"O{i}_{k}",
                    cid,
                    START + pd.Timedelta(days=float(t)),
                    float(round(rng.gamma(3, 10), 2)),
                )
            )
            k += 1
        if complaint is not None and complaint < min(death, days_total):
            when = START + pd.Timedelta(days=float(complaint))
            inter.append((f"I{i}a", cid, when, "complaint", f'{{"ticket_id": "T{i}"}}'))
            if not unresolved:
                inter.append(
                    (
                        f"I{i}b",
                        cid,
                        when + pd.Timedelta(days=2),
                        "ticket_resolved",
                        f'{{"ticket_id": "T{i}"}}',
                    )
                )
        customers.append(
            (
                cid,
                START + pd.Timedelta(days=float(acquired)),
                ["JP", "KR", "US"][i % 3],
                bool(i % 2),
            )
        )
    tables = {
        "customers": pd.DataFrame(
            customers, columns=["customer_id", "acquired_at", "country", "email_opt_in"]
        ),
        "orders": pd.DataFrame(orders, columns=["order_id", "customer_id", "ordered_at", "amount"]),
        "interactions": pd.DataFrame(
            inter, columns=["interaction_id", "customer_id", "occurred_at", "kind", "properties"]
        ),
    }
    for frame in tables.values():
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                frame[col] = frame[col].dt.floor("s")
    return tables


def load_tables(con: Any, tables: dict[str, pd.DataFrame]) -> None:
    """Write canonical frames into a warehouse with the canonical column types."""
    import pyarrow as pa

    for name, frame in tables.items():
        table = wh.read_table(con, name)
        full = frame.reindex(columns=list(table.columns))
        for col, dtype in table.schema().items():
            if dtype.is_decimal():
                full[col] = full[col].map(lambda v: None if pd.isna(v) else Decimal(f"{v:.4f}"))
        arrow = pa.Table.from_pandas(full, schema=table.schema().to_pyarrow(), preserve_index=False)
        wh.write_table(con, name, arrow)
