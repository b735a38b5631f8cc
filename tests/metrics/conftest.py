"""Fixtures of the metric tests (helpers live in metric_tables.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import retain.warehouse as wh


@pytest.fixture
def duck() -> Iterator[Any]:
    """An in-memory DuckDB backend (fast, for hand-computed examples and properties)."""
    con = wh.connect("duckdb://")
    yield con
    con.disconnect()
