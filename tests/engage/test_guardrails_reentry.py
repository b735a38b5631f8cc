"""The re-entry rule reads past sends from ``interactions``, not only from the outbox.

The demo's planted history keeps no outbox, and a real outbox may be pruned: a delivered
message's ``message_sent`` carries the decision's key in ``properties.key`` (the demo writes it
so, and the worker now too), and :func:`retain.engage.execute.guardrails` must read it, or a
customer messaged for one silence is messaged again for the same one. Real components: a
SQLite app database, a DuckDB warehouse the worker appends to.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
from _delivery import engage_settings, sessions_for
from _engage_data import AS_OF, CUSTOMERS, events, orders, subscriptions
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

import retain.warehouse as wh
from retain.appdb import Base, utcnow
from retain.engage import outbox
from retain.engage._tables import DeliveryAttempt
from retain.engage.decisions import decide, decision_key
from retain.engage.execute import guardrails
from retain.engage.playbooks import parse_playbooks, shipped_playbooks
from retain.engage.worker import append_interactions
from retain.features import Sources
from retain.ingest import ingest

PLAYBOOK = """
[[playbook]]
name = "winback"
trigger = { kind = "inactive", days = 60 }
channel = "email"
holdout = 0.0
template = "winback"
"""

#: a1 has been silent since 90 days before AS_OF: this is the occurrence a win-back answers
OCCURRENCE = f"inactive:{(AS_OF - pd.Timedelta(days=90)).date()}"


def _rails_on_an_empty_outbox(sources: Sources):  # type: ignore[no-untyped-def]
    """Guardrails as the demo reads them: no outbox rows at all, only the warehouse."""
    playbooks = parse_playbooks(
        PLAYBOOK, source="t.toml", template_dirs=shipped_playbooks().template_dirs
    )
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        rails = guardrails(session, sources, playbooks, now=AS_OF)
    engine.dispose()
    return playbooks, rails


def _sources(interactions: pd.DataFrame) -> Sources:
    return Sources.from_tables(
        {
            "customers": pd.DataFrame(CUSTOMERS),
            "orders": orders(),
            "events": events(),
            "subscriptions": subscriptions(),
            "interactions": interactions,
        }
    )


def test_a_past_message_sent_in_the_demos_shape_blocks_its_occurrence():
    key = decision_key("winback", "a1", OCCURRENCE)
    sent = pd.DataFrame(
        {  # as retain.cli._demo_playbooks writes a planted delivery, 20 days ago
            "interaction_id": ["msg-1-1", "msg-2-1"],
            "customer_id": ["a1", "a12"],
            "occurred_at": [AS_OF - dt.timedelta(days=20)] * 2,
            "kind": ["message_sent"] * 2,
            "channel": ["email"] * 2,
            "campaign_id": ["winback", "other-campaign"],
            "properties": [
                json.dumps({"message_id": "1", "outcome": "sent", "key": key}),
                # another campaign's key never counts for this playbook
                json.dumps({"key": decision_key("winback", "a12", OCCURRENCE)}),
            ],
        }
    )
    playbooks, rails = _rails_on_an_empty_outbox(_sources(sent))
    assert key in rails.already
    assert decision_key("winback", "a12", OCCURRENCE) not in rails.already
    by = decide(playbooks, _sources(sent), AS_OF, guardrails=rails).set_index("customer_id")
    assert by.loc["a1", "reason"] == "already_messaged"
    assert by.loc["a12", "status"] == "send"


def test_the_workers_message_sent_carries_the_key_that_guardrails_read(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    settings = engage_settings(tmp_path, url)
    sessions = sessions_for(url)
    key = decision_key("winback", "a1", OCCURRENCE)
    ingest("customers", pa.Table.from_pylist([{"customer_id": "a1"}]), settings=settings)
    with sessions() as session:
        row = outbox.enqueue(
            session,
            customer_id="a1",
            channel="email",
            recipient="a1@example.com",
            payload={"subject": "s", "body": "b"},
            idempotency_key=key,
            playbook="winback",
            campaign_id="winback:B",  # a template with variants names one
        )
        session.add(
            DeliveryAttempt(
                message_id=row.message_id,
                customer_id="a1",
                channel="email",
                campaign_id="winback:B",
                attempt=1,
                outcome="sent",
                occurred_at=utcnow() - dt.timedelta(days=400),
            )
        )
        session.commit()
        assert append_interactions(session, settings) == 1
        assert session.scalar(select(DeliveryAttempt.logged)) is True
    con = wh.connect(settings=settings)
    try:
        logged = con.table("interactions").to_pandas()
    finally:
        con.disconnect()
    (properties,) = logged["properties"]
    assert json.loads(properties)["key"] == key
    # the outbox is gone (pruned, or another database): the warehouse still knows the key
    _, rails = _rails_on_an_empty_outbox(_sources(logged))
    assert key in rails.already


def test_an_imported_message_sent_whose_properties_are_not_an_object_does_not_stop_the_run():
    # an ESP's history loaded as interactions: valid JSON (ingest checks that), not an object,
    # under a campaign_id that happens to be the playbook's name
    key = decision_key("winback", "a1", OCCURRENCE)
    sent = pd.DataFrame(
        {
            "interaction_id": ["esp-1", "esp-2", "msg-3-1"],
            "customer_id": ["a12", "a12", "a1"],
            "occurred_at": [AS_OF - dt.timedelta(days=20)] * 3,
            "kind": ["message_sent"] * 3,
            "channel": ["email"] * 3,
            "campaign_id": ["winback"] * 3,
            "properties": ['["key", "tag"]', '"key"', json.dumps({"key": key})],
        }
    )
    _, rails = _rails_on_an_empty_outbox(_sources(sent))
    assert key in rails.already
