"""Helpers for the survey and cancellation tests: a migrated SQLite app database, settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from retain.app.db import make_engine, make_sessionmaker, upgrade
from retain.config import Settings

SECRET = "test-secret-for-voice-links-0123456789"


def sessions(tmp_path: Path) -> sessionmaker[Session]:
    """A migrated SQLite app database in ``tmp_path``."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    return make_sessionmaker(make_engine(url))


def settings(tmp_path: Path) -> Settings:
    """Settings with the app database and a DuckDB warehouse in ``tmp_path``."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
    )
