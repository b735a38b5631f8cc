"""``retain playbooks load | run | results`` on a DuckDB warehouse and a SQLite app database."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

import retain.warehouse as wh
from retain.engage.playbooks import SHIPPED_FILE
from retain.errors import ConfigError, NotFoundError
from retain.ingest import ingest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engage"))
import _engage_data as data

from _cli_runner import make_invoker

PLAYBOOKS = """
[caps]
categories = { marketing = 2 }

[[playbook]]
name = "winback"
trigger = { kind = "inactive", days = 60 }
channel = "email"
holdout = 0.3
template = "winback"

[[playbook]]
name = "renewal"
trigger = { kind = "contract_end", days = 30 }
channel = "email"
holdout = 0.0
template = "renewal"
category = "service"
"""
AT = "2024-06-30T12:00"


def _campaign() -> tuple[pd.DataFrame, pd.DataFrame]:
    """RC-1: 4 treated (2 buy within 30 days) and 4 held out (1 buys): a 0.25 lift."""
    t0 = dt.datetime(2024, 3, 1)
    inter, orders = [], []
    for i in range(8):
        cid = f"r{i}"
        held = i >= 4
        inter.append(
            {
                "interaction_id": f"rc{i}",
                "customer_id": cid,
                "occurred_at": t0,
                "kind": "holdout" if held else "message_sent",
                "channel": "email",
                "campaign_id": "RC-1",
                "properties": None,
            }
        )
        if i in (0, 1, 4):
            orders.append(
                {
                    "order_id": f"ro{i}",
                    "customer_id": cid,
                    "amount": 50.0,
                    "ordered_at": t0 + dt.timedelta(days=10),
                }
            )
    return pd.DataFrame(inter), pd.DataFrame(orders)


def _write(con: Any, name: str, frame: pd.DataFrame) -> None:
    ingest(name, frame, con=con)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("playbooks")
    (root / "retain.toml").write_text(
        f'warehouse_url = "duckdb:///{root / "shop.duckdb"}"\n'
        f'database_url = "sqlite:///{root / "app.db"}"\n'
    )
    (root / "playbooks.toml").write_text(PLAYBOOKS)
    inter, extra_orders = _campaign()
    customers = pd.DataFrame(data.CUSTOMERS)
    customers = pd.concat([customers, pd.DataFrame({"customer_id": [f"r{i}" for i in range(8)]})])
    con = wh.connect(f"duckdb:///{root / 'shop.duckdb'}")
    wh.create_tables(con)
    _write(con, "customers", customers)
    _write(con, "orders", pd.concat([data.orders(), extra_orders], ignore_index=True))
    _write(con, "events", data.events())
    _write(con, "subscriptions", data.subscriptions())
    _write(con, "interactions", inter)
    con.disconnect()
    return root


@pytest.fixture
def invoke(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(project)
    return make_invoker(project / "retain.toml", monkeypatch)


def test_load_lists_the_shipped_file_and_names_a_bad_key(invoke: Any, project: Path) -> None:
    shipped = Path(__import__("retain.engage", fromlist=["x"]).__file__).parent / SHIPPED_FILE
    out = invoke("playbooks", "load", str(shipped), "-f", "csv")
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(__import__("io").StringIO(out.stdout))
    assert len(frame) == 8 and set(frame["languages"]) == {"en, ja, ko"}  # nps-30 is off
    bad = project / "bad.toml"
    bad.write_text(PLAYBOOKS.replace("days = 60", "dayz = 60"))
    out = invoke("playbooks", "load", str(bad))
    assert isinstance(out.exception, ConfigError)
    assert "bad.toml: playbook winback, key trigger.dayz" in str(out.exception)
    assert "spelling" in (out.exception.hint or "")


def test_dry_run_lists_every_decision_and_writes_nothing(invoke: Any, project: Path) -> None:
    out = invoke("playbooks", "run", "--as-of", AT, "--dry-run", "-f", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    by = {(r["playbook"], r["customer_id"]): r for r in rows}
    assert by[("renewal", "a9")]["status"] == "send"
    assert by[("renewal", "a9")]["subject"] == "Your plan renews on 2024-07-20"
    assert by[("winback", "a2")]["reason"] == "no_consent"
    assert by[("winback", "a4")]["status"] in ("delayed", "holdout")
    assert by[("winback", "a3")]["language"] == "ko"
    statuses = {r["status"] for r in rows if r["playbook"] == "winback"}
    assert "holdout" in statuses  # 30 % of 7 customers, by a stable hash
    engine = create_engine(f"sqlite:///{project / 'app.db'}")
    with engine.connect() as db:
        assert db.execute(text("select count(*) from engage_outbox")).scalar() == 0
    table = invoke("playbooks", "run", "--as-of", AT, "--dry-run")
    assert "winback" in table.stdout and "No consent" in table.stdout


def test_run_queues_records_holdouts_and_never_twice(invoke: Any, project: Path) -> None:
    dry = json.loads(invoke("playbooks", "run", "--as-of", AT, "--dry-run", "-f", "json").stdout)
    going = [r for r in dry if r["status"] in ("send", "delayed") and r["channel"] == "email"]
    held = [r for r in dry if r["status"] == "holdout"]
    out = invoke("playbooks", "run", "--as-of", AT)
    assert out.exit_code == 0, out.output
    assert f"Queued {len(going)} messages" in out.stdout
    engine = create_engine(f"sqlite:///{project / 'app.db'}")
    with engine.connect() as db:
        rows = db.execute(
            text("select customer_id, playbook, payload, language from engage_outbox")
        ).all()
    assert sorted((r.playbook, r.customer_id) for r in rows) == sorted(
        (r["playbook"], r["customer_id"]) for r in going
    )
    queued = {(r.playbook, r.customer_id): r for r in rows}
    renewal = queued[("renewal", "a9")]
    assert json.loads(renewal.payload)["subject"] == "Your plan renews on 2024-07-20"
    assert "a9" in renewal.payload or "A9" in renewal.payload  # the first name from attributes
    con = wh.connect(f"duckdb:///{project / 'shop.duckdb'}", read_only=True)
    recorded = con.table("interactions").filter(lambda t: t.kind == "holdout").to_pandas()
    con.disconnect()
    mine = recorded[recorded["campaign_id"] == "winback"]
    assert sorted(mine["customer_id"]) == sorted(r["customer_id"] for r in held)
    # a second run finds every occurrence used: nothing is queued or recorded again
    again = json.loads(invoke("playbooks", "run", "--as-of", AT, "--dry-run", "-f", "json").stdout)
    reasons = {r["customer_id"]: r["reason"] for r in again if r["playbook"] == "winback"}
    for row in going + held:
        if row["playbook"] == "winback":
            assert reasons[row["customer_id"]] == "already_messaged"
    second = invoke("playbooks", "run", "--as-of", AT)
    assert "Queued 0 messages" in second.stdout and "recorded 0 holdouts" in second.stdout


def test_results_json_compares_treated_with_holdout(invoke: Any) -> None:
    out = invoke(
        "playbooks", "results", "RC-1", "--as-of", "2024-06-01", "--window-days", "30", "-f", "json"
    )
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    (variant,) = got["variants"]
    assert variant["treated"]["customers"] == 4 and variant["holdout"]["customers"] == 4
    assert variant["treated"]["conversion"] == 0.5 and variant["holdout"]["conversion"] == 0.25
    assert variant["difference"]["conversion"]["estimate"] == pytest.approx(0.25)
    assert variant["difference"]["revenue"]["estimate"] == pytest.approx(12.5)
    assert variant["incremental_profit"] == pytest.approx(4 * 12.5)
    table = invoke("playbooks", "results", "RC-1", "--as-of", "2024-06-01", "--window-days", "30")
    assert "incremental profit" in table.stdout and "95% low" in table.stdout
    missing = invoke("playbooks", "results", "nope", "--as-of", "2024-06-01")
    assert isinstance(missing.exception, NotFoundError) and "nope" in str(missing.exception)


def test_results_use_a_playbook_added_through_the_api(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``results`` reads the stored edits as ``run`` and the API do: the playbook's own window."""
    from retain.app import open_session, upgrade
    from retain.engage.playbook_versions import save
    from retain.engage.playbooks import load_playbooks

    url = f"sqlite:///{tmp_path / 'app.db'}"
    (tmp_path / "retain.toml").write_text(
        f'warehouse_url = "duckdb:///{project / "shop.duckdb"}"\ndatabase_url = "{url}"\n'
    )
    (tmp_path / "playbooks.toml").write_text(PLAYBOOKS)
    upgrade(url)
    with open_session(url) as session:
        save(
            session,
            load_playbooks(tmp_path / "playbooks.toml"),
            name="RC-1",
            definition={
                "trigger": {"kind": "inactive", "days": 60},
                "template": "winback",
                "attribution_days": 45,
            },
            expected=None,
            author="analyst@example.com",
            create=True,
        )
        session.commit()
    monkeypatch.chdir(tmp_path)
    invoke = make_invoker(tmp_path / "retain.toml", monkeypatch)
    out = invoke("playbooks", "results", "RC-1", "--as-of", "2024-06-01", "-f", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["window_days"] == 45
