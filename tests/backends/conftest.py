"""The cross-engine suites run on DuckDB, PostgreSQL, local PySpark and Spark Connect.

- ``engine`` (overrides the root one here): a fresh, empty warehouse on each engine. Spark Connect
  is a real server that the installed PySpark starts (its wheel ships the spark-connect jar;
  nothing is downloaded), one per test run, reached as ``sc://127.0.0.1:PORT`` through
  :func:`retain.warehouse.connect` like a team's cluster; each test gets its own database.
- The metric suites reuse the metric tests' hand-made tables (``metric_tables``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import retain.warehouse as wh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))

SERVER_START_S = 300
"""A cold Spark Connect server starts in 10-40 s; a loaded 2-core machine can take minutes."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until the server at ``port`` accepts connections; fails with its log if it died."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:]
            pytest.fail(f"the Spark Connect server exited with {proc.returncode}:\n{tail}")
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"the Spark Connect server did not listen on {port} in {SERVER_START_S} s")


@contextmanager
def spark_connect_server(root: Path, **overrides: str) -> Iterator[str]:
    """A local Spark Connect server (local[2]) kept in ``root``; its ``sc://`` URL.

    ``overrides`` replace its Spark settings (benchmarks/spark.py gives it the driver memory of
    ``pyspark://local``).
    """
    from pyspark.find_spark_home import _find_spark_home

    home = Path(_find_spark_home())
    jars = sorted((home / "jars").glob("spark-connect_*.jar"))
    if not jars:
        pytest.skip(f"the installed PySpark ({home}) ships no spark-connect jar")
    port = _free_port()
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.ui.enabled": "false",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.driver.memory": "1g",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}",
        **overrides,
    }
    command = [str(home / "bin" / "spark-submit"), "--master", "local[2]"]
    command += ["--class", "org.apache.spark.sql.connect.service.SparkConnectServer"]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    env = {**os.environ, "SPARK_HOME": str(home)}
    env.pop("SPARK_REMOTE", None)
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, str(jars[-1])],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )
    try:
        _wait_for(proc, port, log)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def spark_connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Spark Connect server for the whole run (local[2]); its ``sc://`` URL."""
    pytest.importorskip("pyspark.sql.connect.session")
    with spark_connect_server(tmp_path_factory.mktemp("spark-connect")) as url:
        yield url


def _spark_database(con: Any) -> Any:
    """``con`` switched to a new, empty Spark database (tests share one session)."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    con._session.sql(f"CREATE DATABASE {name}")
    con._session.catalog.setCurrentDatabase(name)
    return con


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("pyspark", marks=pytest.mark.spark),
        pytest.param("spark-connect", marks=pytest.mark.spark),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty warehouse with the canonical tables on each engine."""
    if request.param == "duckdb":
        con = wh.connect(f"duckdb:///{tmp_path / 'engine.duckdb'}")
    elif request.param == "postgres":
        con = wh.connect(request.getfixturevalue("postgres_url"))
    elif request.param == "pyspark":
        con = _spark_database(wh.connect(spark_session=request.getfixturevalue("spark")))
    else:
        con = _spark_database(wh.connect(request.getfixturevalue("spark_connect_url")))
    wh.create_tables(con)
    yield con
    if request.param == "postgres":
        con.disconnect()
