"""A run's decisions: every guardrail gives its reason, once, in order."""

from __future__ import annotations

import _engage_data as data
import pandas as pd
import pytest
from _engage_data import AS_OF, churn_scores, sources

from retain.engage.decisions import Guardrails, decide, decision_key, summary
from retain.engage.playbooks import PlaybookSet, parse_playbooks, shipped_playbooks
from retain.errors import ConfigError

TEXT = """
[caps]
global_limit = 3
categories = { marketing = 2 }
quiet_hours = { start = 21, end = 8 }

[[playbook]]
name = "winback"
trigger = { kind = "inactive", days = 60 }
channel = "email"
holdout = 0.0
template = "winback"
priority = 10

[[playbook]]
name = "winback-best"
trigger = { kind = "inactive", days = 60 }
channel = "best"
fallbacks = ["email", "sms"]
holdout = 0.0
template = "winback"
priority = 5
"""


def _set(text: str = TEXT) -> PlaybookSet:
    return parse_playbooks(
        text, source="test.toml", template_dirs=shipped_playbooks().template_dirs
    )


def _rails() -> Guardrails:
    last = (AS_OF - pd.Timedelta(days=90)).date()
    return Guardrails(
        already=frozenset({decision_key("winback", "a7", f"inactive:{last}")}),
        suppressed=frozenset({"a3@example.com"}),
        history=pd.DataFrame({"customer_id": ["a6", "a6"], "category": ["marketing"] * 2}),
    )


def test_each_guardrail_gives_its_reason() -> None:
    got = decide(_set(), sources(), AS_OF, names=["winback"], guardrails=_rails())
    by = got.set_index("customer_id")
    assert by.loc["a1", "status"] == "send" and by.loc["a1", "channel"] == "email"
    assert by.loc["a1", "recipient"] == "a1@example.com"
    assert by.loc["a2", "reason"] == "no_consent"  # SMS only; this playbook sends e-mail
    assert by.loc["a3", "reason"] == "suppressed"
    assert by.loc["a4", "status"] == "delayed" and by.loc["a4", "reason"] == "quiet_hours"
    assert by.loc["a4", "send_at"] == pd.Timestamp("2024-06-30 20:00")  # 08:00 in Auckland
    assert by.loc["a6", "reason"] == "capped"
    assert by.loc["a7", "reason"] == "already_messaged"
    assert by.loc["a12", "status"] == "send"
    assert "a5" not in by.index  # active: the trigger does not fire
    assert by.loc["a1", "language"] == "en" and by.loc["a3", "language"] == "ko"


def test_best_channel_reaches_the_sms_customer_and_priority_shares_the_cap() -> None:
    got = decide(_set(), sources(), AS_OF, guardrails=_rails())
    best = got[got["playbook"] == "winback-best"].set_index("customer_id")
    # the number in E.164, the form the gateway and the suppression list use
    assert best.loc["a2", "channel"] == "sms" and best.loc["a2", "recipient"] == "+81300000000"
    # a2 is at 21:00 in Tokyo: delayed to 08:00 JST
    assert best.loc["a2", "status"] == "delayed"
    assert best.loc["a2", "send_at"] == pd.Timestamp("2024-06-30 23:00")
    # a1: winback (priority 10) takes marketing slot 1, winback-best slot 2: both go
    assert best.loc["a1", "status"] == "send"
    # with one slot left, the higher priority wins, whatever order the file lists them in
    rails = Guardrails(history=pd.DataFrame({"customer_id": ["a1"], "category": ["marketing"]}))
    for text in (TEXT, TEXT.replace('name = "winback"\n', 'name = "zz"\n')):
        run = decide(_set(text), sources(), AS_OF, guardrails=rails)
        a1 = run[run["customer_id"] == "a1"].set_index("playbook")["reason"]
        assert a1.isna().sum() == 1 and (a1 == "capped").sum() == 1
        assert pd.isna(a1.drop("winback-best").iloc[0])  # priority 10 is the one sent


def test_holdout_is_recorded_and_the_global_control_skips() -> None:
    text = TEXT.replace("holdout = 0.0", "holdout = 0.5", 1)
    got = decide(_set(text), sources(), AS_OF, names=["winback"])
    held = got[got["status"] == "holdout"]
    assert len(held) > 0 and set(held["reason"]) == {"holdout"}
    again = decide(_set(text), sources(), AS_OF, names=["winback"])
    assert list(again[again["status"] == "holdout"]["customer_id"]) == list(held["customer_id"])
    everyone = decide(
        _set(TEXT.replace("[caps]", "[caps]\nglobal_control = 0.999")),
        sources(),
        AS_OF,
        names=["winback"],
    )
    assert set(everyone["reason"]) == {"global_control"}


def test_every_shipped_playbook_runs_and_the_summary_adds_up() -> None:
    got = decide(shipped_playbooks(), sources(), AS_OF, churn_scores=churn_scores())
    fired = set(zip(got["playbook"], got["customer_id"], strict=True))
    assert {
        ("payment-failed", "a8"),
        ("renewal-30", "a9"),
        ("birthday", "a10"),
        ("onboarding", "a11"),
        ("risk-high", "a12"),
        ("winback-60", "a1"),
    } <= fired
    assert "order_lines" in got.attrs["unavailable"]["replenish"]
    table = summary(got).set_index("playbook")
    counted = table.drop(columns="found").sum(axis=1)
    # every customer has one status; skipped ones one reason (holdout and delayed count twice)
    assert (table["found"] <= counted).all()


def test_webhook_needs_a_url_and_best_uses_it_only_then() -> None:
    hook = TEXT.replace('channel = "best"', 'channel = "webhook"')
    with pytest.raises(ConfigError, match="key playbook"):
        _set(hook)
    with_url = TEXT.replace(
        'fallbacks = ["email", "sms"]',
        'fallbacks = ["webhook", "email"]\n'
        'action = { kind = "webhook", url = "https://crm.example/h" }',
    )
    got = decide(_set(with_url), sources(), AS_OF, names=["winback-best"])
    by = got.set_index("customer_id")
    # no recent activity on any channel: the first fallback, the business's own webhook
    assert by.loc["a1", "channel"] == "webhook"
    assert by.loc["a1", "recipient"] == "https://crm.example/h"
    assert by.loc["a2", "channel"] == "webhook"  # no e-mail consent needed for one's own tools
    no_url = TEXT.replace('fallbacks = ["email", "sms"]', 'fallbacks = ["webhook", "email"]')
    plain = decide(_set(no_url), sources(), AS_OF, names=["winback-best"]).set_index("customer_id")
    assert plain.loc["a1", "channel"] == "email" and plain.loc["a2", "reason"] == "no_consent"


def test_audience_narrows_by_attributes_country_risk_clv_and_segment() -> None:
    import datetime as dt

    import ibis

    import retain.warehouse as wh
    from retain.features import Sources
    from retain.ingest import ingest
    from retain.schema import get_table

    con = wh.connect("duckdb://")
    wh.create_tables(con)
    customers = pd.DataFrame(data.CUSTOMERS)
    customers.loc[customers["customer_id"] == "a6", "country"] = "JP"
    ingest("customers", customers, con=con)
    ingest("orders", data.orders(), con=con)

    def put(name: str, rows: list[dict[str, object]]) -> None:
        schema = get_table(name).ibis_schema()
        frame = pd.DataFrame([{c: r.get(c) for c in schema.names} for r in rows])
        wh.write_table(con, name, ibis.memtable(frame, schema=schema))

    day = dt.datetime(2024, 6, 1)
    put(
        "churn_scores",
        [
            {
                "customer_id": c,
                "as_of": day,
                "definition": "shop",
                "probability": p,
                "risk_band": b,
                "model_version": "1",
                "scored_at": day,
            }
            for c, p, b in (("a1", 0.9, "high"), ("a3", 0.5, "medium"), ("a4", 0.1, "low"))
        ],
    )
    # CLV: a1 and a3 top 20 % (high) of ten customers, a4 low
    clv = {"a1": 900.0, "a3": 800.0, "a4": 1.0, **{f"z{i}": 100.0 + i for i in range(7)}}
    put(
        "clv_scores",
        [
            {"customer_id": c, "as_of": day, "model_version": "1", "clv": v, "currency": "USD"}
            for c, v in clv.items()
        ],
    )
    put(
        "segment_memberships",
        [
            {"customer_id": "a1", "scheme": "rfm", "segment": "at_risk", "as_of": day},
            {
                "customer_id": "a4",
                "scheme": "rfm",
                "segment": "at_risk",
                "as_of": dt.datetime(2024, 5, 1),
            },
            {"customer_id": "a4", "scheme": "rfm", "segment": "lost", "as_of": day},
        ],
    )
    source = Sources.from_warehouse(con)

    def who(audience: str) -> set[str]:
        text = TEXT.replace("priority = 10\n", f"priority = 10\naudience = {audience}\n", 1)
        got = decide(_set(text), source, AS_OF, names=["winback"])
        return set(got["customer_id"])

    everyone = who("{}")
    assert {"a1", "a3", "a4", "a6", "a12"} <= everyone
    assert who('{ attributes = { plan = "gold" } }') == {"a12"}
    assert who('{ countries = ["JP"] }') == {"a6"}
    assert who('{ risk_bands = ["high", "medium"] }') == {"a1", "a3"}
    assert who('{ clv_tiers = ["high"] }') == {"a1", "a3"}
    # the newest stored date: a4 left at_risk for lost on 1 June
    assert who('{ segment = "at_risk", scheme = "rfm" }') == {"a1"}
    con.disconnect()
