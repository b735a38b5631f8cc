"""One demo business with its planted campaign effects, loaded into DuckDB once per run."""

from __future__ import annotations

from typing import Any

import pytest

import retain.warehouse as wh
from retain.demo import DemoBusiness, generate

CUSTOMERS = 12_000
SEED = 7


@pytest.fixture(scope="session")
def demo() -> tuple[DemoBusiness, Any]:
    """12,000 customers over the default two years, seed 7, and the warehouse holding them."""
    business = generate(customers=CUSTOMERS, seed=SEED)
    con = wh.connect("duckdb://")
    business.load(con)
    return business, con
