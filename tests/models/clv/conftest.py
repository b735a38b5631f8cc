"""Fixtures for the lifetime value tests: the CDNOW and donations data, and a warehouse of orders.

Provenance of every file: ../shared/datasets/cdnow/README.md (copied byte-for-byte from the
lifetimes 0.11.3 wheel; originally published by Fader & Hardie with the papers cited in each test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

import retain.warehouse as wh


@pytest.fixture
def cdnow_summary(datasets: Path) -> pd.DataFrame:
    """The 2,357-customer CDNOW calibration summary (weeks) used by Fader, Hardie & Lee (2005)."""
    return pd.read_csv(datasets / "cdnow" / "cdnow_customers_summary.csv")


@pytest.fixture
def cdnow_spend(datasets: Path) -> pd.DataFrame:
    """The same customers with their average repeat spend (zbar), as Gamma-Gamma input."""
    frame = pd.read_csv(datasets / "cdnow" / "cdnow_customers_summary_with_transactions.csv")
    return frame.rename(
        columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.fixture
def donations(datasets: Path) -> pd.DataFrame:
    """The Fader, Hardie & Shang (2010) 1995 donor cohort, compressed (22 rows, 11,104 donors)."""
    frame = pd.read_csv(datasets / "cdnow" / "donations.csv")
    return frame.rename(columns={"periods": "n_periods", "weights": "weight"})


def read_cdnow_orders(path: Path, *, sample: bool = False) -> pd.DataFrame:
    """CDNOW purchase log as canonical orders (parsed with pandas; no dependency on ingest)."""
    if sample:
        names = ["master_id", "customer_id", "date", "cds", "amount"]
        raw = pd.read_csv(
            path, sep=r"\s+", header=None, names=names, dtype={"customer_id": str, "date": str}
        )
    else:
        names = ["customer_id", "date", "cds", "amount"]
        raw = pd.read_csv(
            path,
            sep=r"\s+",
            skiprows=1,
            header=None,
            names=names,
            dtype={"customer_id": str, "date": str},
        )
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(raw))],
            "customer_id": raw["customer_id"],
            "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
            "status": "completed",
        }
    )


def load_orders(con: Any, orders: pd.DataFrame) -> None:
    """Write ``orders`` into the warehouse's canonical orders table (other columns null)."""
    schema = wh.read_table(con, "orders").schema()
    frame = orders.copy()
    for name in schema.names:
        if name not in frame:
            frame[name] = None
    wh.write_table(
        con, "orders", ibis.memtable(frame[list(schema.names)]).cast(schema).to_pyarrow()
    )


@pytest.fixture
def cdnow_sample_orders(datasets: Path) -> pd.DataFrame:
    """The 6,919 transactions of the 2,357 sampled customers."""
    return read_cdnow_orders(datasets / "cdnow" / "CDNOW_sample.txt", sample=True)


@pytest.fixture
def cdnow_master_orders(datasets: Path) -> pd.DataFrame:
    """All 69,659 transactions of the 23,570-customer cohort."""
    return read_cdnow_orders(datasets / "cdnow" / "CDNOW_master.txt")


@pytest.fixture
def put_orders() -> Any:
    """``put_orders(con, frame)`` writes a frame into the warehouse's orders table."""
    return load_orders
