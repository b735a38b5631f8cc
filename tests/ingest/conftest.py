"""Fixtures for the ingestion suites: a warehouse on each engine the core tests run against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import retain.warehouse as wh
from retain.config import Settings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings() -> Settings:
    """Default settings (no retain.toml is read: the root conftest isolates them)."""
    return Settings()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty warehouse on DuckDB and on the real PostgreSQL server (same tests on both)."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    con = wh.connect(url)
    wh.create_tables(con)
    con.retain_url = url  # the killed-process test reopens the same warehouse
    yield con
    con.disconnect()


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def write() -> Any:
    """``write(path, text, encoding="utf-8") -> path``."""
    return _write
