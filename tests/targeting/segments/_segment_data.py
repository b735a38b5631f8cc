"""A hand-checked business for the segment tests, and a plain-pandas RFM reference.

Ten buyers, scored as of 2024-07-01 with quintiles (n = 10, so a score is 1 + rank // 2, rank =
the number of buyers strictly worse):

====  ==========  ======  ======  =========  ===========  ====================
id    last order  orders  net     R F M      (R, F)       segment
====  ==========  ======  ======  =========  ===========  ====================
c01   2024-06-30  6       600     5 5 5      (5, 5)       champions
c02   2024-06-30  5       250     5 4 3      (5, 4)       champions (tie on R)
c03   2024-06-20  1       500     4 1 5      (4, 1)       promising
c04   2024-06-10  3       60      4 3 3      (4, 3)       potential_loyalists
c05   2024-05-01  2       20      3 3 2      (3, 3)       need_attention
c06   2024-04-01  1       30      3 1 2      (3, 1)       about_to_sleep
c07   2024-03-01  4       400     2 4 4      (2, 4)       at_risk
c08   2024-02-01  1       5       2 1 1      (2, 1)       hibernating
c09   2024-01-01  1       10      1 1 1      (1, 1)       lost (15 less a 5 return)
c10   2023-12-01  7       280     1 5 4      (1, 5)       cant_lose_them
====  ==========  ======  ======  =========  ===========  ====================

Four one-time buyers tie at F = 1. ``r1`` has only a refund line and ``x1`` only a cancelled
order: neither is a buyer. c08's order of 2024-07-05 is after the date and does not count.
"""

from __future__ import annotations

import pandas as pd

from retain.targeting.segments import rfm_segment, to_five

AS_OF = "2024-07-01"


def _orders(cid: str, last: str, count: int, each: float) -> list[tuple[str, str, float, str]]:
    day = pd.Timestamp(last)
    return [
        (cid, (day - pd.Timedelta(days=7 * i)).isoformat(), each, "completed") for i in range(count)
    ]


ROWS: list[tuple[str, str, float, str]] = [
    *_orders("c01", "2024-06-30", 6, 100.0),
    *_orders("c02", "2024-06-30", 5, 50.0),
    *_orders("c03", "2024-06-20", 1, 500.0),
    *_orders("c04", "2024-06-10", 3, 20.0),
    *_orders("c05", "2024-05-01", 2, 10.0),
    *_orders("c06", "2024-04-01", 1, 30.0),
    *_orders("c07", "2024-03-01", 4, 100.0),
    *_orders("c08", "2024-02-01", 1, 5.0),
    ("c08", "2024-07-05", 900.0, "completed"),
    ("c09", "2024-01-01", 15.0, "completed"),
    ("c09", "2024-01-20", 5.0, "returned"),
    *_orders("c10", "2023-12-01", 7, 40.0),
    ("r1", "2024-06-01", -20.0, "completed"),
    ("x1", "2024-06-15", 70.0, "cancelled"),
]

EXPECTED = {
    "c01": (5, 5, 5, "champions"),
    "c02": (5, 4, 3, "champions"),
    "c03": (4, 1, 5, "promising"),
    "c04": (4, 3, 3, "potential_loyalists"),
    "c05": (3, 3, 2, "need_attention"),
    "c06": (3, 1, 2, "about_to_sleep"),
    "c07": (2, 4, 4, "at_risk"),
    "c08": (2, 1, 1, "hibernating"),
    "c09": (1, 1, 1, "lost"),
    "c10": (1, 5, 4, "cant_lose_them"),
}


def orders_frame(rows: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    """``(customer_id, ordered_at, amount, status)`` rows as a canonical orders frame."""
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "ordered_at": pd.to_datetime([r[1] for r in rows], format="ISO8601").astype(
                "datetime64[us]"
            ),
            "amount": [float(r[2]) for r in rows],
            "status": [r[3] for r in rows],
        }
    )


def _score(values: pd.Series, bins: int) -> pd.Series:
    """1 + floor(bins * (number of strictly smaller values) / n), the documented score."""
    n = len(values)
    below = values.map(lambda v: int((values < v).sum())).astype("int64")
    return 1 + (below * bins) // n


def reference_rfm(orders: pd.DataFrame, as_of: str, bins: int = 5) -> pd.DataFrame:
    """The RFM scores and segments by the documented rules, in pandas (no engine)."""
    cut = pd.Timestamp(as_of)
    before = orders[orders.ordered_at < cut]
    done = before[(before.status == "completed") & (before.amount >= 0)]
    signed = before.amount.where(before.status == "completed", -before.amount.abs())
    kept = before.assign(revenue=signed)[before.status.isin(["completed", "returned"])]
    out = done.groupby("customer_id").agg(
        last_order_at=("ordered_at", "max"), frequency=("ordered_at", "size")
    )
    out["monetary"] = kept.groupby("customer_id").revenue.sum().reindex(out.index).fillna(0.0)
    out["r"] = _score(out.last_order_at.dt.normalize(), bins)
    out["f"] = _score(out.frequency, bins)
    out["m"] = _score(out.monetary.round(9), bins)
    out["segment"] = [
        rfm_segment(to_five(int(r), bins), to_five(int(f), bins))
        for r, f in zip(out.r, out.f, strict=True)
    ]
    return out.reset_index().sort_values("customer_id", ignore_index=True)
