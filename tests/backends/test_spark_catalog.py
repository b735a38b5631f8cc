"""A local Spark warehouse lasts between commands: one process ingests, the next one reads.

``retain ingest --recipe cdnow`` and ``retain metrics periods`` run as two separate CLI
processes against ``warehouse_url = "pyspark://local"`` (the second finds the tables the first
wrote: their catalog is the Derby metastore in ``spark_warehouse_dir``) and against a Spark
Connect server (``sc://``, whose catalog keeps them), and print the same period metrics as the
same two commands on DuckDB. The data is CDNOW's purchase log
(../shared/datasets/cdnow/CDNOW_master.txt, see its README), cut to its first 2,500 customers
to keep two Spark starts and a load under a minute or two.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

RETAIN = [sys.executable, "-m", "retain"]


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``retain ARGS`` in ``folder`` (its retain.toml) as a new process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETAIN_", "SPARK_"))}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*RETAIN, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


def ingest_then_periods(folder: Path, url: str, sample: Path) -> pd.DataFrame:
    folder.mkdir()
    (folder / "retain.toml").write_text(
        f'warehouse_url = "{url}"\nspark_warehouse_dir = "tables"\n', encoding="utf-8"
    )
    loaded = cli(folder, "ingest", "--recipe", "cdnow", str(sample))
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    read = cli(folder, "metrics", "periods", "-f", "csv", "-o", "periods.csv")
    assert read.returncode == 0, read.stderr[-3000:]
    return pd.read_csv(folder / "periods.csv")


def first_customers(master: Path, out: Path, n: int) -> Path:
    """The lines of CDNOW's log (and its header) of customers 1..``n``."""
    with master.open(encoding="ascii") as src, out.open("w", encoding="ascii") as dst:
        for line in src:
            first = line.split(maxsplit=1)[0]
            if not first.isdigit() or int(first) <= n:
                dst.write(line)
    return out


@pytest.fixture(scope="module")
def duckdb_periods(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The period metrics of the cut CDNOW log, ingested and read by two DuckDB commands."""
    datasets = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
    if not (datasets / "cdnow").is_dir():
        pytest.skip(f"shared datasets not found at {datasets} (see DEVELOPERS.md)")
    root = tmp_path_factory.mktemp("duck")
    frame = ingest_then_periods(root / "duck", "duckdb:///retain.duckdb", sample(datasets, root))
    assert len(frame) == 18  # Jan 1997 .. Jun 1998
    return frame


def sample(datasets: Path, folder: Path) -> Path:
    return first_customers(datasets / "cdnow" / "CDNOW_master.txt", folder / "CDNOW.txt", 2500)


def test_a_spark_connect_warehouse_lasts_between_commands(
    tmp_path: Path, datasets: Path, duckdb_periods: pd.DataFrame, spark_connect_url: str
) -> None:
    """The same two commands as thin clients of a Spark Connect server: its catalog keeps them."""
    got = ingest_then_periods(tmp_path / "connect", spark_connect_url, sample(datasets, tmp_path))
    pd.testing.assert_frame_equal(got, duckdb_periods, check_dtype=False, rtol=1e-12)
    assert not (tmp_path / "connect" / "tables").exists()  # the folder setting is local only


def test_a_local_spark_warehouse_lasts_between_commands(
    tmp_path: Path, datasets: Path, duckdb_periods: pd.DataFrame
) -> None:
    got = ingest_then_periods(tmp_path / "spark", "pyspark://local", sample(datasets, tmp_path))
    pd.testing.assert_frame_equal(got, duckdb_periods, check_dtype=False, rtol=1e-12)
    tables = tmp_path / "spark" / "tables"
    assert {"customers", "orders", "metastore_db"} <= {p.name for p in tables.iterdir()}
    assert not (tmp_path / "spark" / "spark-warehouse").exists()
    assert not (tmp_path / "spark" / "derby.log").exists()

    # A process that finds the metastore held is told who to wait for, not Hive's stack trace.
    # Derby holds its lock on dbex.lck with a POSIX record lock; this process takes it instead.
    with (tables / "metastore_db" / "dbex.lck").open("a+b") as held:
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = cli(tmp_path / "spark", "metrics", "periods", "-f", "csv")
    assert busy.returncode == 2, busy.stderr[-3000:]
    assert "another process has the local Spark warehouse's catalog open" in busy.stderr
    assert "Traceback" not in busy.stderr
