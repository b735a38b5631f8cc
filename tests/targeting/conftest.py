"""Fixtures of the targeting tests: the small scored business of ``_targeting_data``."""

from __future__ import annotations

from typing import Any

import _targeting_data as data
import pytest


@pytest.fixture
def scored(warehouse: Any) -> Any:
    """The warehouse with the business of ``_targeting_data`` written into it."""
    data.write(warehouse, "customers", data.CUSTOMERS)
    data.write(warehouse, "churn_scores", data.CHURN)
    data.write(warehouse, "clv_scores", data.CLV)
    return warehouse
