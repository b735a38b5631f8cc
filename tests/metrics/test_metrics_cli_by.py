"""``retain metrics cohorts|lifecycle --by`` and ``retain metrics survival`` for shop customers
(#16 item 11): unknown names are an error listing what exists, not one NULL group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from metric_tables import load, orders_frame
from typer.testing import CliRunner

import retain.warehouse as wh
from retain.cli import app
from retain.cli._app import state
from retain.errors import MissingColumnError

# H = 90 (the default line): a buys 01-05 and 02-20, b 01-10, c 2024-06-01 (the last order)
ORDERS: list[tuple[str, str, float] | tuple[str, str, float, str]] = [
    ("a", "2024-01-05", 10.0),
    ("a", "2024-02-20", 20.0),
    ("b", "2024-01-10", 5.0),
    ("c", "2024-06-01", 7.0),
]


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "cli.duckdb"
    con = wh.connect(f"duckdb:///{path}")
    wh.create_tables(con)
    load(con, "orders", orders_frame(ORDERS))
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "country": ["JP", "KR", "JP"],
            "attributes": ['{"tier": "gold"}', None, None],
        }
    )
    wh.write_table(con, "customers", customers, mode="append")
    con.disconnect()
    monkeypatch.setenv("RETAIN_WAREHOUSE_URL", f"duckdb:///{path}")
    monkeypatch.setattr(state, "_settings", None)
    return f"duckdb:///{path}"


def run(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def refused(*args: str) -> str:
    """The error a command stops with (``retain``'s entry point prints it with its hint)."""
    result = CliRunner().invoke(app, list(args))
    assert isinstance(result.exception, MissingColumnError), result.output
    return str(result.exception.violations[0].hint)


def test_cohorts_and_lifecycle_by_country(url: str) -> None:
    rows = json.loads(run("metrics", "cohorts", "--by", "country", "--format", "json").output)
    assert {
        (r["country"], r["cohort"][:7], r["active"]) for r in rows if r["period_index"] == 0
    } == {
        ("JP", "2024-01", 1),
        ("KR", "2024-01", 1),
        ("JP", "2024-06", 1),
    }
    stages = json.loads(run("metrics", "lifecycle", "--by", "tier", "--format", "json").output)
    assert {r["tier"] for r in stages} == {"gold", None}
    assert "country" in run("metrics", "cohorts", "--by", "country").output


@pytest.mark.parametrize("command", ["cohorts", "lifecycle", "periods"])
def test_unknown_by_is_an_error_listing_what_exists(url: str, command: str) -> None:
    hint = refused("metrics", command, "--by", "nosuch")
    assert "country" in hint and "tier" in hint


def test_shop_survival_under_the_inactivity_rule(url: str) -> None:
    out = run(
        "metrics", "survival", "--activity", "orders", "--unit", "day", "--format", "json"
    ).output
    curve = {r["timeline"]: r for r in json.loads(out)}
    # a: 02-20 + 90 = 05-20, day 136 from 01-05; b: 01-10 + 90, day 90; c censored at day 0
    assert curve[90.0]["observed"] == 1 and curve[136.0]["observed"] == 1
    assert curve[0.0]["censored"] == 1
    assert curve[136.0]["survival"] == 0.0
    table = run("metrics", "survival", "--definition", "default", "--by", "country").output
    assert "churned after 90 days" in table and "Log-rank test across country" in table
    assert "country" in refused("metrics", "survival", "--activity", "orders", "--by", "nosuch")
