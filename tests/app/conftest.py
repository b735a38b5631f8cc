"""Service fixtures: the app on SQLite and on PostgreSQL, a small warehouse, a key per role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _service_data as _data
import pytest
from _app_helpers import PASSWORD, ROLES
from fastapi.testclient import TestClient

import retain.warehouse as wh
from retain.app.auth import service as auth
from retain.app.main import create_app
from retain.config import Settings


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id, with small cost parameters so the suite stays fast on two cores."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(scope="session")
def _warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made business written once per run; tests get a copy of the file."""
    path = tmp_path_factory.mktemp("service") / "template.duckdb"
    con = wh.connect(f"duckdb:///{path}")
    wh.create_tables(con)
    _data.load(con)
    con.disconnect()
    return path


@pytest.fixture
def loaded_warehouse(_warehouse_template: Path, tmp_path: Path) -> Iterator[Any]:
    """A private copy of the DuckDB warehouse with the hand-made business loaded."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(_warehouse_template, path)
    con = wh.connect(f"duckdb:///{path}")
    yield con
    con.disconnect()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The app database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        models_dir=tmp_path / "models",
    )


@pytest.fixture
def app(settings: Settings, loaded_warehouse: Any) -> Any:
    return create_app(settings, warehouse=loaded_warehouse, migrate=True)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def keys(app: Any) -> dict[str, str]:
    """One API key per role (plus the admin user who made them)."""
    out: dict[str, str] = {}
    with app.state.sessionmaker() as session:
        for role in ROLES:
            _, raw = auth.create_api_key(session, name=f"{role}-key", role=role, created_by="tests")
            out[role] = raw
        session.commit()
    return out


@pytest.fixture
def users(app: Any) -> dict[str, str]:
    """One dashboard user per role; returns role -> e-mail (password: PASSWORD)."""
    out: dict[str, str] = {}
    with app.state.sessionmaker() as session:
        for role in ROLES:
            user = auth.create_user(
                session, email=f"{role}@example.org", role=role, password=PASSWORD
            )
            out[role] = user.email
        session.commit()
    return out
