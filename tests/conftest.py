"""Shared fixtures: warehouses on each engine, the shared datasets, and one Spark session per run.

- ``warehouse``: an empty DuckDB warehouse file in ``tmp_path`` with every canonical table.
- ``spark``: one local Spark session for the whole run (a cold start takes ~30 s).
- ``engine``: parametrised over ``duckdb`` and ``pyspark`` for the cross-engine suites; returns a
  fresh, empty Ibis backend (a new Spark database per test).
- ``postgres_url``: a fresh database on the PostgreSQL server that ``scripts/postgres.sh``
  starts (``make test`` starts it; this fixture starts it too when run alone).
- ``datasets``: ``../shared/datasets``; tests that need it skip with a reason where it is absent.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import retain.warehouse as wh

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every Spark test runs on one worker when ``make test`` spreads the run over two
    (``--dist loadgroup``): one JVM and one cold start per run, not one per worker."""
    del config
    for item in items:
        if item.get_closest_marker("spark") is not None:
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(autouse=True)
def _isolated_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the developer's retain.toml or RETAIN_* variables by accident."""
    for key in list(os.environ):
        if key.startswith("RETAIN_") and key != "RETAIN_TEST_POSTGRES_URL":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RETAIN_CONFIG", str(tmp_path_factory.getbasetemp() / "absent.toml"))
    monkeypatch.delenv("RETAIN_CONFIG")


@pytest.fixture
def datasets() -> Path:
    """The shared public datasets folder (see its README for provenance)."""
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS} (see DEVELOPERS.md)")
    return DATASETS


@pytest.fixture
def warehouse(tmp_path: Path) -> Any:
    """An empty DuckDB warehouse with the canonical tables."""
    con = wh.connect(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    wh.create_tables(con)
    yield con
    con.disconnect()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for the run (local[2], UI off, UTC)."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    root = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("retain-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.warehouse.dir", str(root / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={root}")
        .config("spark.sql.ansi.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _spark_backend(spark: Any) -> Any:
    name = f"t_{uuid.uuid4().hex[:10]}"
    spark.sql(f"CREATE DATABASE {name}")
    spark.catalog.setCurrentDatabase(name)
    return wh.connect(spark_session=spark)


@pytest.fixture
def spark_warehouse(spark: Any) -> Any:
    """An empty Ibis PySpark backend in its own Spark database."""
    con = _spark_backend(spark)
    wh.create_tables(con)
    return con


@pytest.fixture(params=["duckdb", pytest.param("pyspark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """An empty Ibis backend on each engine (cross-engine suites use this)."""
    if request.param == "duckdb":
        con = wh.connect(f"duckdb:///{tmp_path / 'engine.duckdb'}")
    else:
        con = _spark_backend(request.getfixturevalue("spark"))
    wh.create_tables(con)
    return con


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of the test PostgreSQL server (started by scripts/postgres.sh when needed)."""
    url = os.environ.get("RETAIN_TEST_POSTGRES_URL")
    if not url:
        out = subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres.sh"), "start"],
            check=True,
            capture_output=True,
            text=True,
        )
        url = out.stdout.strip().splitlines()[-1]
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = postgres_server.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_warehouse(postgres_url: str) -> Any:
    """An empty PostgreSQL warehouse with the canonical tables."""
    con = wh.connect(postgres_url)
    wh.create_tables(con)
    yield con
    con.disconnect()
