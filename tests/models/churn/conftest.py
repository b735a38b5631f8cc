"""Fixtures over the synthetic shop in ``_churn_shop.py`` (imported by that unique name, since
several test folders have a conftest and ``from conftest import`` would pick the wrong one)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from _churn_shop import load_tables, synthetic_shop

import retain.warehouse as wh


@pytest.fixture(scope="session")
def shop() -> dict[str, pd.DataFrame]:
    return synthetic_shop()


@pytest.fixture
def shop_warehouse(tmp_path: Any, shop: dict[str, pd.DataFrame]) -> Any:
    """A DuckDB warehouse file holding the synthetic shop."""
    con = wh.connect(f"duckdb:///{tmp_path / 'shop.duckdb'}")
    wh.create_tables(con)
    load_tables(con, shop)
    yield con
    con.disconnect()
