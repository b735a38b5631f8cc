"""One number, two forms: the outbox's recipient index and E.164 across suppression and replies.

The customer's number is stored in national form (``090-1234-5678`` in Japan, ``010-1234-5678``
in Korea), the gateway reports replies in E.164: an SMS STOP from one must stop messages to
the other, rows written before migration 0010 included. Real components: a SQLite or
PostgreSQL app database migrated by Alembic, a DuckDB warehouse, a loopback SMS gateway.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from _delivery import app_db, engage_settings, sessions_for
from sqlalchemy import select, text, update

from retain.app.db import make_engine, make_sessionmaker, upgrade
from retain.appdb import utcnow
from retain.config import SmsSettings
from retain.engage import outbox, suppression
from retain.engage._tables import DeliveryAttempt, OutboxMessage, Suppression
from retain.engage.phone import PhoneNumberError
from retain.engage.sms_inbound import receive
from retain.engage.worker import Worker
from retain.i18n import language
from retain.ingest import ingest

__all__ = ["app_db"]


def _plan(session: Any, statement: Any) -> str:
    """The engine's query plan of ``statement``, as one string."""
    bind = session.get_bind()
    sql = str(statement.compile(bind, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN" if bind.dialect.name == "sqlite" else "EXPLAIN"
    return " ".join(str(r[-1]) for r in session.execute(text(f"{explain} {sql}")))


def test_a_suppressed_numbers_queued_mail_is_found_through_the_recipient_index(app_db):
    """A big queue (a playbook run's), analysed: the lookup reads the recipient's rows only."""
    sessions = sessions_for(app_db)
    now = utcnow()
    rows = [
        {
            "message_id": outbox.message_id_for(f"k{i}"),
            "idempotency_key": f"k{i}",
            "customer_id": f"C{i}",
            "channel": "sms" if i % 2 else "email",
            "recipient": f"+8190{i:08d}" if i % 2 else f"c{i}@example.com",
            "payload": "{}",
            "state": "queued",
            "next_attempt_at": now,
            "created_at": now,
        }
        for i in range(4000)
    ]
    with sessions() as session:
        session.execute(OutboxMessage.__table__.insert(), rows)
        session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
        for key in ("+819000000001", "c2@example.com"):
            plan = _plan(session, suppression.queued_to(key))
            assert "ix_engage_outbox_recipient" in plan, plan
        assert suppression.cancel_queued_to(session, "+81 90 0000 0001") == 1
        assert suppression.cancel_queued_to(session, "C2@Example.com") == 1


def _legacy_rows(url: str) -> None:
    """Rows as the code before 0010 wrote them: numbers with separators, padded addresses."""
    upgrade(url, "0009_voice_offer_basis")
    engine = make_engine(url)
    now = utcnow()
    rows = [
        ("k-jp", "C-jp", "sms", "090-1234-5678"),
        ("k-kr", "C-kr", "sms", "010 1234 5678"),
        ("k-mail", "C-mail", "email", " Alice@Example.com "),
    ]
    with engine.begin() as conn:
        for key, customer, channel, recipient in rows:
            conn.execute(
                OutboxMessage.__table__.insert().values(
                    message_id=outbox.message_id_for(key),
                    idempotency_key=key,
                    customer_id=customer,
                    channel=channel,
                    recipient=recipient,
                    payload=json.dumps({"body": "hi"}),
                    language="ja",
                    advertising=True,
                    state="queued",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        # a suppression the old code keyed by the national digits
        conn.execute(
            Suppression.__table__.insert().values(
                address="01099990000", reason="manual", created_at=now
            )
        )
    engine.dispose()


def test_rows_written_before_the_migration_meet_e164_opt_outs_and_replies(app_db):
    _legacy_rows(app_db)
    upgrade(app_db)
    sessions = make_sessionmaker(make_engine(app_db))
    with sessions() as session:
        stored = dict(
            session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.recipient)).all()
        )
        assert stored == {
            "k-jp": "09012345678",
            "k-kr": "01012345678",
            "k-mail": "Alice@Example.com",  # trimmed, its case kept: it is the To address
        }
        # a reply in E.164 from the gateway finds the customer stored in national form
        reply = receive(session, number="+81 90 1234 5678", text="ありがとう")
        assert (reply.action, reply.customer_id) == ("reply_recorded", "C-jp")
        stop = receive(session, number="+821012345678", text="수신거부")
        session.commit()
        assert (stop.action, stop.customer_id, stop.cancelled) == ("opted_out", "C-kr", 1)
        assert suppression.is_suppressed(session, "010-1234-5678", region="KR")
        # and the reverse: the old national key suppresses the E.164 number
        assert suppression.is_suppressed(session, "+82 10 9999 0000")
        assert suppression.cancel_queued_to(session, "ALICE@example.com") == 1
        session.commit()
        states = dict(
            session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.state)).all()
        )
    assert states == {"k-jp": "queued", "k-kr": "cancelled", "k-mail": "cancelled"}


@contextmanager
def _gateway() -> Iterator[tuple[list[dict[str, Any]], int]]:
    """A loopback SMS gateway that accepts every message: what it got, and its port."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(201)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield got, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _settings(tmp_path: Any, url: str, port: int) -> Any:
    settings = engage_settings(tmp_path, url, max_attempts=3)
    settings.sms = SmsSettings(
        gateway_url=f"http://127.0.0.1:{port}/v1/messages",
        sender="+15005550006",
        optout_number="080-123-4567",
        allow_private=["127.0.0.0/8"],
        timeout_seconds=5,
    )
    return settings


def _customers(settings: Any, phone: str, country: str | None) -> None:
    row = {
        "customer_id": "C1",
        "email": "c1@example.com",
        "email_opt_in": False,
        "phone": phone,
        "sms_opt_in": True,
        "country": country,
    }
    ingest("customers", pa.Table.from_pylist([row]), settings=settings)


def test_a_playbook_run_stores_e164_and_a_stop_from_the_gateway_cancels_it(app_db, tmp_path):
    from _engage_data import AS_OF, CUSTOMERS, events, orders, subscriptions

    from retain.engage.decisions import Guardrails, decide
    from retain.engage.execute import execute
    from retain.engage.playbooks import parse_playbooks, shipped_playbooks
    from retain.features import Sources

    customers = pd.DataFrame(CUSTOMERS)
    a2 = customers["customer_id"] == "a2"  # SMS consent only, in Tokyo
    customers.loc[a2, ["phone", "country"]] = ["090-1234-5678", "JP"]
    sources = Sources.from_tables(
        {
            "customers": customers,
            "orders": orders(),
            "events": events(),
            "subscriptions": subscriptions(),
        }
    )
    playbooks = parse_playbooks(
        '[[playbook]]\nname = "winback-sms"\ntrigger = { kind = "inactive", days = 60 }\n'
        'channel = "sms"\nholdout = 0.0\ntemplate = "winback"\n',
        source="t.toml",
        template_dirs=shipped_playbooks().template_dirs,
    )
    sessions = sessions_for(app_db)
    with sessions() as session:
        settings = _settings(tmp_path, app_db, 0)
        decisions = decide(playbooks, sources, AS_OF)
        (row,) = decisions[decisions["customer_id"] == "a2"].to_dict("records")
        assert (row["status"], row["recipient"]) == ("delayed", "+819012345678")
        execute(session, decisions, playbooks, settings=settings, now=AS_OF)
        session.commit()
        queued = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")).one()
        assert queued.recipient == "+819012345678"
        assert json.loads(queued.payload)["region"] == "JP"
        # the gateway reports the STOP in E.164; the queued SMS goes, and the next run skips a2
        assert receive(session, number="+819012345678", text="STOP").cancelled == 1
        session.commit()
        state = session.scalar(select(OutboxMessage.state).where(OutboxMessage.id == queued.id))
        assert state == "cancelled"
        # a later trigger occurrence: the decision itself skips the number the gateway stopped
        listed = frozenset(session.scalars(select(Suppression.address)))
        assert listed == {"+819012345678"}
        again = decide(playbooks, sources, AS_OF, guardrails=Guardrails(suppressed=listed))
        (skip,) = again[again["customer_id"] == "a2"].to_dict("records")
        assert (skip["status"], skip["reason"]) == ("skipped", "suppressed")


def test_the_worker_sends_e164_refuses_an_unreadable_number_and_rechecks_in_the_country(
    app_db, tmp_path
):
    sessions = sessions_for(app_db)
    with _gateway() as (got, port):
        settings = _settings(tmp_path, app_db, port)
        _customers(settings, "090-1234-5678", "JP")
        with sessions() as session:
            # queued an hour ago (consent is read again), national in the warehouse: the same
            # number, not a changed one
            ok = outbox.enqueue(
                session,
                customer_id="C1",
                channel="sms",
                recipient="+81 90 1234 5678",  # as a playbook run writes it
                payload={"body": "Welcome back", "region": "JP"},
                idempotency_key="ok",
                advertising=False,
            )
            bad = outbox.enqueue(
                session,
                customer_id="C1",
                channel="sms",
                recipient="1234-5678",
                payload={"body": "Welcome back", "region": "JP"},
                idempotency_key="bad",
                advertising=False,
            )
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.idempotency_key == "ok")
                .values(created_at=utcnow() - dt.timedelta(hours=1))
            )
            session.commit()
            ok_id, bad_id = ok.message_id, bad.message_id
        with language("ja"):
            report = Worker(settings, sessions, log_interactions=False).drain()
    assert (report.sent, report.failed, report.cancelled) == (1, 1, 0)
    assert [r["to"] for r in got] == ["+819012345678"]
    with sessions() as session:
        detail = dict(
            session.execute(select(DeliveryAttempt.message_id, DeliveryAttempt.detail)).all()
        )
    # refused for good, saying why (the number as stored: separators dropped)
    assert "「12345678」" in detail[bad_id] and "JP" in detail[bad_id]
    # the SMS's length is told in the catalog's language
    assert detail[ok_id].endswith("gsm7、12 単位、1 通")
    # a caller that gives the customer's country gets the number read in it, or refused
    with sessions() as session:
        row = outbox.enqueue(
            session,
            customer_id="C2",
            channel="sms",
            recipient="010-1234-5678",
            region="KR",
            payload={"body": "hi"},
            idempotency_key="kr",
        )
        assert (row.recipient, json.loads(row.payload)["region"]) == ("+821012345678", "KR")
        with pytest.raises(PhoneNumberError, match="1234-5678"):
            outbox.enqueue(
                session,
                customer_id="C3",
                channel="sms",
                recipient="1234-5678",
                region="KR",
                payload={"body": "hi"},
                idempotency_key="kr-bad",
            )


def test_consent_is_read_against_the_number_in_any_of_its_forms():
    from retain.engage.channels import Consent
    from retain.engage.worker import _withdrawn

    def row(recipient: str) -> OutboxMessage:
        return OutboxMessage(channel="sms", recipient=recipient)

    national = Consent(None, False, "090-1234-5678", True, country="JP")
    e164_unknown = Consent(None, False, "+81 90 1234 5678", True, country=None)
    assert _withdrawn(row("+819012345678"), national) is None
    # a row from before 0010 (national digits, no country), the warehouse now in E.164
    assert _withdrawn(row("09012345678"), e164_unknown) is None
    assert _withdrawn(row("+819012345679"), national) == "consent_revoked"  # changed number
    refused = Consent(None, False, "090-1234-5678", False, country="JP")
    assert _withdrawn(row("+819012345678"), refused) == "consent_revoked"


def test_a_stop_from_a_gateway_that_drops_the_plus_stops_the_number(app_db):
    """Vonage's ``msisdn`` and others report ``819012345678``: E.164 without its ``+``."""
    sessions = sessions_for(app_db)
    with sessions() as session:
        for key, number, region in (
            ("jp", "090-1234-5678", "JP"),
            ("kr", "+82 10 1234 5678", None),
        ):
            outbox.enqueue(
                session,
                customer_id=f"C-{key}",
                channel="sms",
                recipient=number,
                region=region,
                payload={"body": "Welcome back"},
                idempotency_key=f"k-{key}",
            )
        session.commit()
        stop = receive(session, number="819012345678", text="STOP")
        session.commit()
        assert (stop.action, stop.customer_id, stop.cancelled) == ("opted_out", "C-jp", 1)
        assert suppression.is_suppressed(session, "+81 90 1234 5678")
        assert suppression.is_suppressed(session, "090-1234-5678", region="JP")
        # a STOP from a number we never texted still lists it so that the E.164 form meets it
        receive(session, number="821099990000", text="STOP")
        session.commit()
        assert suppression.is_suppressed(session, "+82 10 9999 0000")
        assert suppression.is_suppressed(session, "010-9999-0000", region="KR")
        assert not suppression.is_suppressed(session, "+821012345678")
