"""The save desk's offer plan (``retain.voice.offer_plan``): one plan, one budget setting.

On a real DuckDB warehouse with churn and CLV scores and a real app database: the CLI's intake
(``retain savedesk intake``) and the API's (``POST /api/v1/savedesk/intake``) queue the same
offers, with and without a budget, and both follow ``[savedesk] budget``; a bad setting is
refused at load with an error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.app import make_engine, make_sessionmaker, upgrade
from retain.config import ChurnDefinition, SaveDeskSettings, Settings, get_settings
from retain.errors import ConfigError
from retain.ingest import ingest
from retain.voice import savedesk
from retain.voice._case_tables import SaveDeskTask
from retain.voice._survey_tables import CancellationRecord
from retain.voice.offer_plan import (
    cancellation_line,
    cancellation_plan,
    intake_offers,
    plan_budget,
)

IDS = [f"P{i:02d}" for i in range(30)]
REASONS = ("price", "not_using", "temporary", "missing_feature", "other")


def _warehouse(url: str) -> None:
    """30 scored customers: churn risk 0.55-0.84, CLV 2,000-4,900 (value at risk ~75,000)."""
    ingest("customers", pa.table({"customer_id": IDS}), settings=Settings(warehouse_url=url))
    con = wh.connect(url)
    wh.create_tables(con)
    when = pd.Timestamp("2024-04-01")
    scores = {"customer_id": IDS, "as_of": [when] * 30, "model_version": ["v1"] * 30}
    probability = [0.55 + 0.01 * i for i in range(30)]
    frame = pd.DataFrame({**scores, "definition": "default", "probability": probability})
    wh.write_table(con, "churn_scores", frame, mode="append")
    clv = [2000.0 + 100 * i for i in range(30)]
    wh.write_table(con, "clv_scores", pd.DataFrame({**scores, "clv": clv}), mode="append")
    con.disconnect()


def _asked_for_calls(database_url: str) -> None:
    """Every customer cancelled and accepted a call from the desk (one reason each)."""
    upgrade(database_url)
    with make_sessionmaker(make_engine(database_url))() as session:
        for i, customer in enumerate(IDS):
            session.add(
                CancellationRecord(
                    token_hash=f"h-{customer}",
                    customer_id=customer,
                    reason=REASONS[i % len(REASONS)],
                    offer="save_desk_call",
                    outcome="saved",
                    comment="",
                )
            )
        session.commit()


def _offers(database_url: str) -> dict[str, str]:
    with make_sessionmaker(make_engine(database_url))() as session:
        return {c.customer_id: c.offer for c in session.query(SaveDeskTask).all()}


def _project(root: Path, savedesk_toml: str) -> Path:
    config = root / "retain.toml"
    config.write_text(
        f'database_url = "sqlite:///{(root / "cli.db").as_posix()}"\n'
        f'warehouse_url = "duckdb:///{(root / "w.duckdb").as_posix()}"\n{savedesk_toml}',
        encoding="utf-8",
    )
    return config


def _api_intake(settings: Settings, body: dict[str, Any]) -> dict[str, str]:
    """Run ``POST /api/v1/savedesk/intake`` on a fresh app database; the queued offers."""
    from retain.app.auth import service as auth
    from retain.app.main import create_app

    _asked_for_calls(settings.database_url)
    con = wh.connect(settings.warehouse_url)
    try:
        app = create_app(settings, warehouse=con, migrate=True)
        with app.state.sessionmaker() as session:
            _, key = auth.create_api_key(session, name="k", role="analyst", created_by="tests")
            session.commit()
        with TestClient(app) as client:
            done = client.post("/api/v1/savedesk/intake", json=body, headers={"X-API-Key": key})
        assert done.status_code == 200, done.text
        queued = {c["customer_id"]: c["offer"] for c in done.json()["queued"]}
    finally:
        con.disconnect()
    assert queued == _offers(settings.database_url)
    return queued


@pytest.mark.parametrize(
    ("setting", "cli_args", "body"),
    [
        ("[savedesk]\nbudget = 0.5\n", [], {}),  # the save desk's plan, money budget
        ("", [], {}),  # the save desk's plan, 5 % of the value at risk
        ("", ["--budget", "0.5"], {"budget": 0.5}),  # an explicit budget, as retain plan
    ],
)
def test_cli_and_api_intake_queue_the_same_offers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    cli_args: list[str],
    body: dict[str, Any],
) -> None:
    """The CLI without --budget queued every case with its reason's fallback (no plan)."""
    config = _project(tmp_path, setting)
    settings = get_settings(config)
    _warehouse(settings.warehouse_url)
    _asked_for_calls(settings.database_url)
    run = make_invoker(config, monkeypatch)
    result = run("savedesk", "intake", "--agent", "ann@example.org:50", "--explore", "0", *cli_args)
    assert result.exit_code == 0, result.output
    by_cli = _offers(settings.database_url)
    assert set(by_cli) == set(IDS)
    api = settings.model_copy(
        update={"database_url": f"sqlite:///{(tmp_path / 'api.db').as_posix()}"}
    )
    assert _api_intake(api, body) == by_cli
    con = wh.connect(settings.warehouse_url)
    try:
        planned = intake_offers(con, settings, budget=body.get("budget"))
    finally:
        con.disconnect()
    assert planned, "the plan targets somebody"
    if setting or cli_args:  # a budget of 0.5 reaches 10 customers at 0.05 each, not all 30
        assert len(planned) <= 10
    for i, customer in enumerate(IDS):  # the plan's action, else the reason's fallback
        fallback = savedesk.recommend_offer(REASONS[i % len(REASONS)])
        assert by_cli[customer] == planned.get(customer, fallback)


def test_the_budget_setting_decides_the_plans_budget(tmp_path: Path) -> None:
    url = f"duckdb:///{(tmp_path / 'w.duckdb').as_posix()}"
    _warehouse(url)
    con = wh.connect(url)
    try:
        shared = Settings(warehouse_url=url)
        plan = cancellation_plan(con, shared)
        fixed = cancellation_plan(con, Settings(warehouse_url=url, savedesk={"budget": 0.5}))
        half = cancellation_plan(con, Settings(warehouse_url=url, savedesk={"budget_share": 0.5}))
    finally:
        con.disconnect()
    at_risk = sum((0.55 + 0.01 * i) * (2000.0 + 100 * i) for i in range(30))
    assert plan is not None and fixed is not None and half is not None
    assert plan.summary.budget == pytest.approx(0.05 * at_risk)
    assert fixed.summary.budget == 0.5
    assert half.summary.budget == pytest.approx(0.5 * at_risk)
    assert fixed.summary.total_cost <= 0.5 < plan.summary.total_cost
    customers = pd.DataFrame({"churn_probability": [0.5, 0.2], "clv": [100.0, 1000.0]})
    assert plan_budget(customers, SaveDeskSettings()) == pytest.approx(0.05 * 250.0)
    assert plan_budget(customers, SaveDeskSettings(budget=70.0, budget_share=0.5)) == 70.0


def test_the_cancellation_line_is_the_first_contractual_one() -> None:
    shop = ChurnDefinition(name="shop")
    subs = ChurnDefinition(name="subs", kind="contractual", horizon_days=30)
    assert cancellation_line(Settings(churn=[shop, subs])).name == "subs"
    assert cancellation_line(Settings(churn=[shop])).name == "shop"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("budget = -5", "savedesk.budget: Value error, the save desk's budget is money"),
        ("budget = nan", "savedesk.budget: Value error"),
        ("budget_share = 0", "savedesk.budget_share: Value error, the save desk's budget_share"),
        ("budget_share = 5", "budget_share = 0.05 for 5 %; got 5.0"),
        ('budget = "lots"', "savedesk.budget"),
    ],
)
def test_a_bad_budget_setting_is_refused_at_load(tmp_path: Path, text: str, words: str) -> None:
    config = tmp_path / "retain.toml"
    config.write_text(f"[savedesk]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        get_settings(config)
    assert words in caught.value.message


def test_the_cached_plan_follows_new_exchange_rates(tmp_path: Path) -> None:
    """CLV in yen, the book reported in dollars: the plan waits for the rates, then uses them.

    Loading ``exchange_rates`` (an ingest, a new warehouse generation) changes every CLV the
    plan reads and its budget, though no score table changed.
    """
    from retain.voice.offer_plan import PlanCache

    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    _warehouse(url)
    con = wh.connect(url)
    try:
        con.raw_sql("ALTER TABLE clv_scores ADD COLUMN IF NOT EXISTS currency VARCHAR")
        con.raw_sql("UPDATE clv_scores SET currency = 'JPY'")
    finally:
        con.disconnect()
    settings = Settings(warehouse_url=url, currency="USD")
    cache = PlanCache(settings)
    rates = {
        "currency": ["JPY"],
        "reporting_currency": ["USD"],
        "valid_from": [pd.Timestamp("2024-01-01").date()],
        "rate": [0.0067],
    }
    con = wh.connect(url)
    try:
        plan, _ = cache.current(con, 1)
        assert plan is None  # no rate for yen yet: no plan, the fallback decides
    finally:
        con.disconnect()
    ingest("exchange_rates", pa.table(rates), settings=settings)
    con = wh.connect(url)
    try:
        plan, _ = cache.current(con, 2)
        assert plan is not None
        first = plan.summary.budget
    finally:
        con.disconnect()
    rates["rate"] = [0.0134]  # a corrected rate: the same rows, twice the dollars
    ingest("exchange_rates", pa.table(rates), settings=settings)
    con = wh.connect(url)
    try:
        plan, _ = cache.current(con, 3)
        assert plan is not None and plan.summary.budget == pytest.approx(2 * first)
    finally:
        con.disconnect()
