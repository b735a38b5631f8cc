"""A hand-checked business for acquisition-source quality, scored as of 2024-07-01.

=====  ==========  ==========================  ==================================  ============
id     channel     first order (discount)      later completed orders              CLV
=====  ==========  ==========================  ==================================  ============
a1     search      2024-01-01, 100 (none)      02-15 (45 days), 05-01 discounted   300
a2     search      2024-01-10, 60 + 40 (40 %)  06-01 discounted (143 days)         50
a3     referral    2024-02-01, 90 + 10 (10 %)  none                                -
a4     (empty)     2024-05-01, 30 (none)       05-20 (too recent for 90 days)      -
a5     (no row)    2024-03-01, 50 + 50 (50 %)  03-10 and 03-20, both discounted    20
=====  ==========  ==========================  ==================================  ============

a5 also has a cancelled order (ignored) and one on 2024-07-10, after the date. x9 has only a
cancelled order: not a buyer. 90 days after the first order is on or before 2024-07-01 for
a1, a2, a3 and a5; 180 days only for a1 (2024-01-03 + 180 days = 2024-07-01).
"""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

import retain.warehouse as wh
from retain.schema import get_table

AS_OF = "2024-07-01"

_ORDERS = [
    # customer, day, amount, discount, status
    ("a1", "2024-01-01", 100.0, None, "completed"),
    ("a1", "2024-02-15", 80.0, 0.0, "completed"),
    ("a1", "2024-05-01", 90.0, 10.0, "completed"),
    ("a2", "2024-01-10", 60.0, 40.0, "completed"),
    ("a2", "2024-06-01", 45.0, 5.0, "completed"),
    ("a3", "2024-02-01", 90.0, 10.0, "completed"),
    ("a4", "2024-05-01", 30.0, None, "completed"),
    ("a4", "2024-05-20", 30.0, None, "completed"),
    ("a5", "2024-02-01", 70.0, None, "cancelled"),
    ("a5", "2024-03-01", 50.0, 50.0, "completed"),
    ("a5", "2024-03-10", 20.0, 5.0, "completed"),
    ("a5", "2024-03-20", 20.0, 5.0, "completed"),
    ("a5", "2024-07-10", 20.0, None, "completed"),
    ("x9", "2024-03-01", 20.0, None, "cancelled"),
]

CHANNEL = [
    # source, customers, eligible_90d, retention_90d, eligible_180d, retention_180d,
    # clv_customers, mean_clv, later_orders, discount_dependence
    ("search", 2, 2, 0.5, 1, 1.0, 2, 175.0, 3, 2 / 3),
    ("unknown", 2, 1, 1.0, 0, None, 1, 20.0, 3, 2 / 3),
    ("referral", 1, 1, 0.0, 0, None, 0, None, 0, None),
]
DISCOUNT = [
    ("none", 2, 1, 1.0, 1, 1.0, 1, 300.0, 3, 1 / 3),
    ("some", 1, 1, 0.0, 0, None, 0, None, 0, None),
    ("large", 2, 2, 0.5, 0, None, 2, 35.0, 3, 1.0),
]
"""The expected rows of each grouping, worked out by hand from the table above."""


def orders_frame() -> pd.DataFrame:
    """The orders above as a canonical orders frame."""
    return pd.DataFrame(
        {
            "order_id": [f"o{i:02d}" for i in range(len(_ORDERS))],
            "customer_id": [r[0] for r in _ORDERS],
            "ordered_at": pd.to_datetime([r[1] for r in _ORDERS]).astype("datetime64[us]"),
            "amount": [r[2] for r in _ORDERS],
            "currency": ["USD"] * len(_ORDERS),
            "status": [r[4] for r in _ORDERS],
            "discount_amount": [r[3] for r in _ORDERS],
        }
    )


def load(con: Any) -> None:
    """Write the orders, customers and CLV scores above to ``con``."""
    frames = {
        "orders": orders_frame(),
        "customers": pd.DataFrame(
            {
                "customer_id": ["a1", "a2", "a3", "a4", "x9"],
                "acquisition_channel": ["search", "search", "referral", "  ", "search"],
            }
        ),
        "clv_scores": pd.DataFrame(
            {
                "customer_id": ["a1", "a2", "a5"],
                "as_of": pd.to_datetime(["2024-06-30"] * 3).astype("datetime64[us]"),
                "model_version": ["v1"] * 3,
                "clv": [300.0, 50.0, 20.0],
                "currency": ["USD"] * 3,
            }
        ),
    }
    for name, frame in frames.items():
        schema = get_table(name).ibis_schema()
        full = ibis.memtable(pd.DataFrame({c: frame.get(c) for c in schema.names}), schema=schema)
        if wh.backend_name(con) == "pyspark":
            con.create_table(name, full, overwrite=True)
        else:
            wh.write_table(con, name, full)
