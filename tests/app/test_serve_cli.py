"""``retain user add`` / ``retain user key create|revoke`` and ``retain serve`` wiring."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from retain.errors import ConflictError, InvalidParameterError

RETAIN = str(Path(sys.executable).with_name("retain"))


def _run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    return subprocess.run(
        [RETAIN, *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'retain-app.db'}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run ``retain`` in-process in ``tmp_path`` (CliRunner), with fresh settings each call."""
    from typer.testing import CliRunner

    from retain.cli import app
    from retain.cli._app import state

    monkeypatch.chdir(tmp_path)

    def run(args: list[str], stdin: str | None = None):  # type: ignore[no-untyped-def]
        state._settings = None
        return CliRunner().invoke(app, args, input=stdin)

    return run


def test_user_add_and_keys(cli, tmp_path):
    added = cli(
        ["user", "add", "Ops@Example.org", "--role", "admin", "--password-stdin"],
        stdin="a long passphrase\n",
    )
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == "Added ops@example.org with role admin."
    dup = cli(["user", "add", "ops@example.org", "--role", "admin", "--password", "another pw"])
    assert isinstance(dup.exception, ConflictError)
    assert str(dup.exception.message) == "A user with e-mail ops@example.org already exists."
    bad = cli(["user", "add", "x@example.org", "--role", "wizard", "--password", "long enough"])
    assert isinstance(bad.exception, InvalidParameterError)
    assert "Unknown role 'wizard'" in bad.exception.message
    empty = cli(["user", "add", "y@example.org", "--password-stdin"], stdin="\n")
    assert isinstance(empty.exception, InvalidParameterError)
    created = cli(["user", "key", "create", "shop", "--role", "ingest"])
    assert created.stdout.strip().splitlines()[-1].startswith("rk_")
    revoked = cli(["user", "key", "revoke", "1"])
    assert revoked.exit_code == 0 and "Revoked API key 1." in revoked.stdout
    users = cli(["user", "list"])
    assert users.exit_code == 0 and "ops@example.org" in users.stdout and "admin" in users.stdout
    listed = cli(["--lang", "ja", "user", "key", "list"])
    assert listed.exit_code == 0, listed.output
    raw = created.stdout.strip().splitlines()[-1]
    assert raw.split("_")[1] in listed.stdout and raw not in listed.stdout  # prefix, not the key
    assert "API キー" in listed.stdout and "shop" in listed.stdout
    # each change is in the audit log, by the CLI, once (refused commands write nothing)
    import sqlite3

    with sqlite3.connect(tmp_path / "retain-app.db") as db:
        rows = db.execute(
            "SELECT actor, actor_kind, action, target_type FROM audit_log ORDER BY id"
        ).fetchall()
    assert rows == [
        ("cli", "cli", "user.create", "user"),
        ("cli", "cli", "key.create", "api_key"),
        ("cli", "cli", "key.revoke", "api_key"),
    ]


def test_errors_print_error_and_hint_lines(tmp_path):
    """Through the real entry point: the error boundary prints Error/Hint and exits 2."""
    dup = [["user", "add", "a@example.org", "--role", "admin", "--password", "long enough"]] * 2
    _run(dup[0], tmp_path)
    out = _run(dup[1], tmp_path)
    assert out.returncode == 2
    assert "Error: A user with e-mail a@example.org already exists." in out.stderr
    assert "Hint: change the existing user with PATCH /api/v1/users/ID instead" in out.stderr


def test_serve_applies_migrations_and_serves(tmp_path, cli):
    key = cli(["user", "key", "create", "shop", "--role", "ingest"]).stdout.strip()
    key = key.splitlines()[-1]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    server = subprocess.Popen(
        [RETAIN, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        me = httpx.get(f"{url}/api/v1/me", headers={"X-API-Key": key}, timeout=10)
        assert me.json()["role"] == "ingest"
        assert "ログイン" in httpx.get(f"{url}/login?lang=ja", timeout=10).text
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert f"Serving retain on http://127.0.0.1:{port}/" in out


def _start(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    server = subprocess.Popen(
        [RETAIN, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise AssertionError(server.communicate(timeout=30)[0])


def test_commands_while_serve_runs_read_and_name_the_holder_on_writes(tmp_path, cli):
    """Issue 16 item 16: a running ``retain serve`` leaves reads working; a write says who holds
    the warehouse (pid, command, since) and how to go on, never DuckDB's lock error; an API
    ingest still writes, and the command line reads what it wrote."""
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,ordered_at,amount\n"
        "o1,c1,2024-01-02,5\no2,c2,2024-02-03,7\no3,c1,2024-03-04,9\n"
    )
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id\nc1\nc2\nc3\nc4\n")
    for table, file in (("customers", customers), ("orders", orders)):
        loaded = _run(["ingest", table, str(file)], tmp_path)
        assert loaded.returncode == 0, loaded.stderr
    key = cli(["user", "key", "create", "shop", "--role", "admin"]).stdout.strip().splitlines()[-1]
    port = _free_port()
    server = _start(tmp_path, port)
    try:
        read = _run(["metrics", "periods", "--period", "month"], tmp_path)
        assert read.returncode == 0, read.stderr
        assert "2024-03" in read.stdout
        more = tmp_path / "more.csv"
        more.write_text("order_id,customer_id,ordered_at,amount\no4,c3,2024-04-05,3\n")
        write = _run(["ingest", "orders", str(more)], tmp_path)
        assert write.returncode == 2, write.stderr
        assert f"pid {server.pid}" in write.stderr and "serve" in write.stderr
        assert "since" in write.stderr and "POST /api/v1/ingest/TABLE" in write.stderr
        assert "bug" not in write.stderr and "lock" not in write.stderr.lower()
        sent = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ingest/orders",
            json={
                "records": [
                    {"order_id": "o5", "customer_id": "c4", "ordered_at": "2024-04-06", "amount": 4}
                ]
            },
            headers={"X-API-Key": key},
            timeout=30,
        )
        assert sent.status_code == 200, sent.text
        again = _run(["metrics", "periods", "--period", "month"], tmp_path)
        assert again.returncode == 0, again.stderr
        assert "2024-04" in again.stdout
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert not (tmp_path / ("retain.duckdb" + ".holder.json")).exists()
    after = _run(["ingest", "orders", str(more)], tmp_path)
    assert after.returncode == 0, after.stderr


def test_the_serving_process_freezes_the_heap_and_collects_rarely(tmp_path):
    # In a child process: the thresholds and the frozen heap outlive the call. A built app
    # leaves them alone unless it is to be served (as retain serve builds it).
    code = (
        "import gc, sys\n"
        "from retain.app.main import GC_THRESHOLDS, create_app\n"
        "from retain.config import Settings\n"
        "folder = sys.argv[1]\n"
        "settings = Settings(database_url=f'sqlite:///{folder}/app.db',\n"
        "    warehouse_url=f'duckdb:///{folder}/w.duckdb', models_dir=folder)\n"
        "create_app(settings, migrate=True)\n"
        "assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0\n"
        "create_app(settings, serving=True)\n"
        "assert gc.get_threshold() == GC_THRESHOLDS, gc.get_threshold()\n"
        "assert GC_THRESHOLDS[0] >= 10_000\n"
        "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
