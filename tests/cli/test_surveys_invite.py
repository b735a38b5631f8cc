"""``retain surveys invite``: invitations to a segment or a file of ids, through the outbox.

The links are signed with the service's own secret: the service opens the page a CLI-made
e-mail links to.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.config import get_settings
from retain.engage._tables import OutboxMessage
from retain.errors import InvalidParameterError, NotFoundError
from retain.ingest import ingest

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3", "c4"],
        "email": ["c1@example.com", "c2@example.com", None, "c4@example.com"],
        "language": ["ja", "ko", "ja", "fr"],
    }
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    config = tmp_path / "retain.toml"
    config.write_text(
        f'database_url = "sqlite:///{(tmp_path / "app.db").as_posix()}"\n'
        f'warehouse_url = "duckdb:///{(tmp_path / "w.duckdb").as_posix()}"\n'
        "[engage]\n"
        'public_url = "https://shop.example.com"\n'
    )
    con = wh.connect(f"duckdb:///{(tmp_path / 'w.duckdb').as_posix()}")
    wh.create_tables(con)
    ingest("customers", CUSTOMERS, con=con)
    from retain.targeting.segments.store import store_memberships

    members = pd.DataFrame({"customer_id": ["c2", "c3", "c4"], "segment": ["frequent"] * 3})
    store_memberships(con, "frequency", "2025-03-01", members)
    con.disconnect()
    return config


def _mails(config: Path) -> list[Any]:
    from retain.app import make_engine, make_sessionmaker

    engine = make_engine(get_settings(config).database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    finally:
        engine.dispose()


def test_invites_a_file_of_ids_once_in_each_customers_language(project, tmp_path, monkeypatch):
    ids = tmp_path / "ids.txt"
    ids.write_text("c1\nc2\n\nc3\nnobody\nc1\n", encoding="utf-8")
    run = make_invoker(project, monkeypatch)
    result = run("surveys", "invite", "nps", "--customers", str(ids))
    assert result.exit_code == 0, result.output
    assert "Invited 2 customers to nps" in result.output
    assert "skipped 2 without an e-mail address and 0 already" in result.output
    mails = _mails(project)
    assert [(m.customer_id, m.recipient, m.language) for m in mails] == [
        ("c1", "c1@example.com", "ja"),
        ("c2", "c2@example.com", "ko"),
    ]
    assert all(not m.advertising for m in mails)
    again = run("surveys", "invite", "nps", "--customers", str(ids))
    assert "Invited 0 customers" in again.output and "2 already holding" in again.output
    assert len(_mails(project)) == 2  # nobody written to twice

    # the service opens the link the e-mail carries: the CLI signed it with the service's secret
    from retain.app import create_app

    body = json.loads(mails[0].payload)["body"]
    link = re.search(r"https://shop\.example\.com(/s/\S+)", body)
    assert link, body
    settings = get_settings(project)
    app = create_app(settings, migrate=True)
    with TestClient(app) as client:
        page = client.get(link.group(1))
    assert page.status_code == 200 and 'lang="ja"' in page.text


def test_invites_a_stored_segment_and_a_csv_of_ids(project, tmp_path, monkeypatch):
    run = make_invoker(project, monkeypatch)
    result = run(
        "surveys", "invite", "csat", "--segment", "frequent", "--scheme", "frequency",
        "--language", "en",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    mails = _mails(project)
    assert [(m.customer_id, m.language) for m in mails] == [("c2", "en"), ("c4", "en")]
    table = tmp_path / "ids.csv"
    table.write_text("name,customer_id\nx,c4\ny,c1\n", encoding="utf-8")
    result = run("surveys", "invite", "ces", "--customers", str(table))
    assert result.exit_code == 0, result.output
    ces = _mails(project)[2:]
    assert [(m.customer_id, m.language) for m in ces] == [("c4", "en"), ("c1", "ja")]  # fr -> en


def test_the_audience_and_the_survey_must_be_clear(project, tmp_path, monkeypatch):
    run = make_invoker(project, monkeypatch)
    neither = run("surveys", "invite", "nps")
    assert isinstance(neither.exception, InvalidParameterError)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    both = run("surveys", "invite", "nps", "--segment", "frequent", "--customers", str(empty))
    assert isinstance(both.exception, InvalidParameterError)
    no_ids = run("surveys", "invite", "nps", "--customers", str(empty))
    assert isinstance(no_ids.exception, InvalidParameterError)
    ids = tmp_path / "ids.txt"
    ids.write_text("c1\n", encoding="utf-8")
    unknown = run("surveys", "invite", "no-such-survey", "--customers", str(ids))
    assert isinstance(unknown.exception, NotFoundError)
    assert _mails(project) == []
