"""``retain savedesk rates`` and ``retain tickets import|export`` against real stores."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pytest

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.app import make_engine, make_sessionmaker, upgrade
from retain.config import get_settings
from retain.errors import InvalidParameterError
from retain.ingest import ingest
from retain.voice import savedesk


@pytest.fixture
def project(tmp_path):
    config = tmp_path / "retain.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "app.db"}"\n'
        f'warehouse_url = "duckdb:///{tmp_path / "w.duckdb"}"\n'
    )
    return config


def test_rates_as_json_with_wilson_intervals(project, monkeypatch):
    settings = get_settings(project)
    upgrade(settings.database_url)
    with make_sessionmaker(make_engine(settings.database_url))() as session:
        for i in range(20):
            savedesk.open_case(session, kind="cancellation", customer_id=f"C{i}", reason="price")
        savedesk.route(session, [savedesk.Agent("ann", 10), savedesk.Agent("bob", 10)], explore=0)
        for i, task in enumerate(savedesk.queue_of(session, "ann")):
            savedesk.record_outcome(session, task, "saved" if i < 7 else "cancelled")
        session.commit()
    run = make_invoker(project, monkeypatch)
    result = run("savedesk", "rates", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["group"], r["cases"], r["saved"]) for r in rows] == [("ann", 10, 7)]
    low, high = savedesk.wilson(7, 10)
    assert rows[0]["ci_low"] == pytest.approx(low) and rows[0]["ci_high"] == pytest.approx(high)
    table = run("savedesk", "rates", "--by", "offer")
    assert table.exit_code == 0 and "discount" in table.output and "70.0%" in table.output


def test_tickets_import_then_export_neutralises_formulas(project, tmp_path, monkeypatch):
    settings = get_settings(project)
    ingest("customers", pa.table({"customer_id": ["C1", "C2"]}), settings=settings)
    path = tmp_path / "t.csv"
    path.write_text(
        'ticket_id,customer_id,subject\nT1,C1,=HYPERLINK("http://x")\nT2,C2,<script>x</script>\n',
        encoding="utf-8",
    )
    run = make_invoker(project, monkeypatch)
    result = run("tickets", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "Imported 2 tickets." in result.output
    assert "Imported 2 tickets." in run("tickets", "import", str(path)).output  # idempotent
    exported = run("tickets", "export")
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [r["subject"] for r in rows] == ['\'=HYPERLINK("http://x")', "<script>x</script>"]
    con = wh.connect(settings.warehouse_url)
    try:
        kinds = sorted(con.table("interactions").to_pandas()["kind"])
    finally:
        con.disconnect()
    assert kinds == ["complaint", "complaint", "ticket_stage", "ticket_stage"]


def test_intake_routes_cancellations_and_close_records_the_outcome(project, monkeypatch):
    from retain.voice._case_tables import SaveDeskTask
    from retain.voice._survey_tables import CancellationRecord

    settings = get_settings(project)
    upgrade(settings.database_url)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as session:
        session.add(
            CancellationRecord(
                token_hash="h",
                customer_id="C9",
                reason="price",
                offer="save_desk_call",
                outcome="saved",
                comment="",
            )
        )
        session.commit()
    run = make_invoker(project, monkeypatch)
    bad = run("savedesk", "intake", "--agent", "ann")
    assert isinstance(bad.exception, InvalidParameterError)
    assert "EMAIL:CAPACITY" in str(bad.exception)
    result = run("savedesk", "intake", "--agent", "ann@example.org:5", "--explore", "0")
    assert result.exit_code == 0, result.output
    assert "Routed 1 cases." in result.output
    with sessions() as session:
        (case,) = session.query(SaveDeskTask).all()
        assert (case.agent, case.offer) == ("ann@example.org", "discount")
    closed = run("savedesk", "close", str(case.id), "saved")
    assert closed.exit_code == 0, closed.output
    rows = json.loads(run("savedesk", "rates", "--by", "offer", "--format", "json").output)
    assert [(r["group"], r["saved"]) for r in rows] == [("discount", 1)]
    twice = run("savedesk", "close", str(case.id), "saved")  # an outcome is recorded once
    assert isinstance(twice.exception, InvalidParameterError)
    assert isinstance(run("savedesk", "close", "999", "saved").exception, InvalidParameterError)


def test_intake_queues_high_risk_high_value_customers(project, monkeypatch):
    import pandas as pd

    from retain.voice._case_tables import SaveDeskTask

    settings = get_settings(project)
    when = pd.Timestamp("2024-04-01")
    ingest("customers", pa.table({"customer_id": ["A", "B", "C"]}), settings=settings)
    con = wh.connect(settings.warehouse_url)
    wh.create_tables(con)
    wh.write_table(
        con,
        "churn_scores",
        pd.DataFrame(
            {
                "customer_id": ["A", "B", "C"],
                "as_of": [when] * 3,
                "definition": ["default"] * 3,
                "probability": [0.9, 0.9, 0.1],
                "model_version": ["v1"] * 3,
            }
        ),
        mode="append",
    )
    wh.write_table(
        con,
        "clv_scores",
        pd.DataFrame(
            {
                "customer_id": ["A", "B", "C"],
                "as_of": [when] * 3,
                "model_version": ["v1"] * 3,
                "clv": [5000.0, 50.0, 9000.0],
            }
        ),
        mode="append",
    )
    con.disconnect()
    run = make_invoker(project, monkeypatch)
    result = run(
        "savedesk",
        "intake",
        "--agent",
        "ann@example.org:5",
        "--high-risk",
        "default",
        "--explore",
        "0",
    )
    assert result.exit_code == 0, result.output
    with make_sessionmaker(make_engine(settings.database_url))() as session:
        cases = session.query(SaveDeskTask).all()
    assert [(c.customer_id, c.kind, c.value_band, c.agent) for c in cases] == [
        ("A", "high_risk", "high", "ann@example.org")
    ]


def test_intake_with_a_budget_shows_the_planners_offer(project, monkeypatch):
    """``--budget`` plans like ``retain plan --budget``: each case shows the plan's action."""
    import pandas as pd

    from retain.targeting.offers import plan_from_warehouse
    from retain.voice._case_tables import SaveDeskTask

    settings = get_settings(project)
    ids = [f"P{i}" for i in range(30)]
    when = pd.Timestamp("2024-04-01")
    ingest("customers", pa.table({"customer_id": ids}), settings=settings)
    con = wh.connect(settings.warehouse_url)
    wh.create_tables(con)
    scores = {"customer_id": ids, "as_of": [when] * 30, "model_version": ["v1"] * 30}
    probability = [0.55 + 0.01 * i for i in range(30)]
    wh.write_table(
        con,
        "churn_scores",
        pd.DataFrame({**scores, "definition": "default", "probability": probability}),
        mode="append",
    )
    clv = [2000.0 + 100 * i for i in range(30)]
    wh.write_table(con, "clv_scores", pd.DataFrame({**scores, "clv": clv}), mode="append")
    plan = plan_from_warehouse(con, budget=5.0, definition="default", settings=settings.offers)
    con.disconnect()
    planned = savedesk.planned_offers(plan)
    assert planned and set(planned) < set(ids)  # some targeted, some not
    run = make_invoker(project, monkeypatch)
    args = ["savedesk", "intake", "--agent", "ann@example.org:50", "--high-risk", "default"]
    result = run(*args, "--budget", "5", "--explore", "0")
    assert result.exit_code == 0, result.output
    with make_sessionmaker(make_engine(settings.database_url))() as session:
        offers = {c.customer_id: c.offer for c in session.query(SaveDeskTask).all()}
    assert set(offers) == set(ids)
    for customer, offer in offers.items():  # the plan's action, else the fallback
        assert offer == planned.get(customer, savedesk.recommend_offer("model_risk"))
