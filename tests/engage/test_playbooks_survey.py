"""The survey action: a run queues invitations with signed links through the outbox.

The guardrails apply as to any message (consent, caps, holdout, the re-entry rule), and the link
in each e-mail opens the invitation with the secret the service itself verifies links with.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

import retain.warehouse as wh
from retain.app import make_engine, make_sessionmaker, upgrade
from retain.app.auth.service import service_secret
from retain.config import Settings
from retain.engage._tables import OutboxMessage
from retain.engage.execute import run_playbooks
from retain.engage.playbooks import parse_playbooks, shipped_playbooks
from retain.errors import ConfigError
from retain.features import Sources
from retain.ingest import ingest
from retain.voice._survey_tables import SurveyInvitation
from retain.voice.surveys import open_invitation

AS_OF = dt.datetime(2024, 6, 30, 12, 0)
BOOK = """
[caps]
global_limit = 1
categories = { service = 1 }
quiet_hours = { start = 21, end = 8 }

[[playbook]]
name = "nps-30"
trigger = { kind = "lifecycle", stage = "new", delays = [30] }
channel = "email"
holdout = 0.3
template = "nps-survey"
action = { kind = "survey", survey = "nps", ttl_days = 7 }
category = "service"
"""
LINK = re.compile(r"https://retain\.example/s/(\S+)")


def _customers() -> pd.DataFrame:
    rows = []
    for i in range(40):
        rows.append(
            {
                "customer_id": f"c{i:02d}",
                "acquired_at": AS_OF - dt.timedelta(days=30, hours=2),
                "language": ("en", "ja", "ko")[i % 3],
                "time_zone": "Europe/London",
                "country": "GB",
                "email": f"c{i:02d}@example.com",
                "phone": None,
                "email_opt_in": i != 0,  # c00 never consented to e-mail
                "sms_opt_in": False,
                "attributes": json.dumps({"first_name": f"C{i}"}),
            }
        )
    return pd.DataFrame(rows)


def _setup(tmp_path: Path) -> tuple[Settings, object, object]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    ingest("customers", _customers(), con=con)
    settings = Settings(
        database_url=url,
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        engage={"public_url": "https://retain.example/"},
    )
    return settings, sessions, con


def _book(text: str = BOOK):
    return parse_playbooks(text, source="t.toml", template_dirs=shipped_playbooks().template_dirs)


def test_a_run_queues_signed_invitations_respecting_guardrails(tmp_path: Path) -> None:
    settings, sessions, con = _setup(tmp_path)
    playbooks = _book()
    with sessions() as session:  # c01 had a message this week: its cap (1 a week) is full
        session.add(
            OutboxMessage(
                message_id="m-c01",
                idempotency_key="other:c01:1",
                customer_id="c01",
                channel="email",
                recipient="c01@example.com",
                payload="{}",
                playbook="other",
                created_at=AS_OF - dt.timedelta(days=1),
            )
        )
        session.commit()
    with sessions() as session:
        decisions, report = run_playbooks(
            session, Sources.from_warehouse(con), playbooks, settings=settings, now=AS_OF, con=con
        )
        session.commit()
    status = dict(zip(decisions["customer_id"], decisions["status"], strict=True))
    reason = dict(zip(decisions["customer_id"], decisions["reason"], strict=True))
    assert len(status) == 40
    assert reason["c00"] == "no_consent"
    assert reason["c01"] == "capped"
    held = {c for c, s in status.items() if s == "holdout"}
    sent = {c for c, s in status.items() if s == "send"}
    assert held and len(sent) == 40 - 2 - len(held)
    assert report is not None and report.invitations == report.queued == len(sent)

    secret = None
    with sessions() as session:
        secret = service_secret(session, "")  # what the service verifies links with
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.playbook == "nps-30"))
        queued = {r.customer_id: r for r in rows}
        assert set(queued) == sent
        invited = session.scalars(select(SurveyInvitation)).all()
        assert sorted(i.customer_id for i in invited) == sorted(sent)
        for cid, row in queued.items():
            payload = json.loads(row.payload)
            (token,) = LINK.findall(payload["body"])
            invitation, survey = open_invitation(session, secret, token)
            assert (invitation.customer_id, survey.name) == (cid, "nps")
            assert invitation.language == row.language
            ttl = invitation.expires_at - invitation.created_at  # expiry kept to the second
            assert dt.timedelta(days=7, seconds=-1) < ttl <= dt.timedelta(days=7)
            assert payload["playbook_version"] == 1 and row.advertising is False
        by_lang = {r.language: json.loads(r.payload)["subject"] for r in queued.values()}
        assert by_lang == {
            "en": "How likely are you to recommend us?",
            "ja": "私たちをご友人に勧めていただけますか?",
            "ko": "저희를 지인에게 추천하실 의향이 있으신가요?",
        }
    # held out customers are recorded, never invited
    recorded = con.table("interactions").filter(lambda r: r.kind == "holdout").to_pandas()
    assert set(recorded["customer_id"]) == held

    # a second run: the re-entry rule holds, no new invitation, no new message
    with sessions() as session:
        decisions, report = run_playbooks(
            session, Sources.from_warehouse(con), playbooks, settings=settings, now=AS_OF, con=con
        )
        session.commit()
    assert report is not None and (report.invitations, report.queued) == (0, 0)
    with sessions() as session:
        assert len(session.scalars(select(SurveyInvitation)).all()) == len(sent)
    con.disconnect()


def test_an_undefined_survey_stops_the_run_before_anything_is_written(tmp_path: Path) -> None:
    settings, sessions, con = _setup(tmp_path)
    playbooks = _book(BOOK.replace('survey = "nps"', 'survey = "loyalty"'))
    with sessions() as session, pytest.raises(ConfigError, match="loyalty"):
        run_playbooks(
            session, Sources.from_warehouse(con), playbooks, settings=settings, now=AS_OF, con=con
        )
    with sessions() as session:
        assert session.scalars(select(OutboxMessage)).first() is None
    assert con.table("interactions").count().execute() == 0
    con.disconnect()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ('channel = "email"', 'channel = "best"'),
        ('survey = "nps", ', ""),
        ('template = "nps-survey"', 'template = "winback"'),
    ],
)
def test_a_survey_playbook_is_checked_when_loaded(change: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _book(BOOK.replace(change, needle))
    assert "nps-30" in str(caught.value)


def test_a_message_template_may_not_name_the_survey() -> None:
    text = BOOK.replace('action = { kind = "survey", survey = "nps", ttl_days = 7 }\n', "")
    with pytest.raises(ConfigError, match="not a survey"):
        _book(text)


def test_the_shipped_nps_playbook_is_off_until_enabled() -> None:
    shipped = shipped_playbooks().get("nps-30")
    assert shipped.action.kind == "survey" and shipped.action.survey == "nps"
    assert shipped.trigger.kind == "lifecycle" and shipped.trigger.delays == (30,)
    assert shipped.enabled is False


def test_the_worker_delivers_the_invitations_and_a_link_takes_one_answer(tmp_path: Path) -> None:
    """Run, `retain worker --once`, a real SMTP server: each customer's mail, link answered once."""
    from _delivery import engage_settings, sessions_for, smtp_server

    from retain.engage.worker import Worker
    from retain.voice.links import LinkError
    from retain.voice.surveys import answer

    url = f"sqlite:///{tmp_path / 'app.db'}"
    sessions = sessions_for(url)
    with smtp_server() as (handler, port):
        settings = engage_settings(tmp_path, url, port, public_url="https://retain.example")
        con = wh.connect(settings.warehouse_url)
        wh.create_tables(con)
        ingest("customers", _customers().head(6), con=con)
        with sessions() as session:
            _, report = run_playbooks(
                session, Sources.from_warehouse(con), _book(), settings=settings, now=AS_OF, con=con
            )
            session.commit()
        con.disconnect()
        assert report is not None and report.queued > 0
        delivered = Worker(settings, sessions).drain()
    assert delivered.sent == report.queued == len(handler.messages)
    with sessions() as session:
        secret = service_secret(session, "")
        for mail in handler.messages:
            text = mail.get_body(preferencelist=("plain",)).get_content()
            (token,) = LINK.findall(text)
            invitation, _ = open_invitation(session, secret, token)
            assert mail["To"] == f"{invitation.customer_id}@example.com"
        answer(session, secret, token, score=9, comment="great tea")
        with pytest.raises(LinkError):
            answer(session, secret, token, score=3)
