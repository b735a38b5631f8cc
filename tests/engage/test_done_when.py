"""Issue 19's "done when", end to end through the command line with a real SMTP server.

A small shop of silent customers in English, Japanese and Korean: ``retain playbooks run``
decides and queues, ``retain worker --once`` delivers to a loopback aiosmtpd server, each
customer reads the win-back mail in their language; the guardrails hold (no consent, a
suppressed address, the holdout and quiet hours get nothing); then orders planted for the
treated customers at a higher rate than for the holdout show up as the playbook's lift.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from _delivery import smtp_server
from sqlalchemy import select

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.app.db import make_engine, make_sessionmaker, upgrade
from retain.config import get_settings
from retain.engage._tables import OutboxMessage, Suppression
from retain.engage.holdout import in_holdout, variant_of
from retain.engage.messages import load_template
from retain.engage.playbooks import shipped_playbooks
from retain.ingest import ingest

PLAYBOOKS = """
[caps]
window_days = 7
global_limit = 3
categories = { marketing = 2 }
quiet_hours = { start = 21, end = 8 }

[[playbook]]
name = "winback-60"
trigger = { kind = "inactive", days = 60, max_days = 365 }
channel = "email"
holdout = 0.3
template = "winback"
offer = { name = "coupon_10", cost = 1.0 }
attribution_days = 30
goal = { metric = "lift", window_days = 30, target = 0.2 }
"""
N = 300
CONVERT = {"treated": 0.6, "holdout": 0.2}
"""The planted effect: share of each arm that orders within the window (lift 0.4)."""


def _zones(now: dt.datetime) -> tuple[str, str]:
    """A fixed-offset zone where it is day now, and one where it is night (quiet hours)."""
    day = night = ""
    for offset in range(-12, 13):
        name = f"Etc/GMT{-offset:+d}" if offset else "UTC"
        hour = (now.hour + offset) % 24
        if 10 <= hour < 19 and not day:
            day = name
        if (hour >= 22 or hour < 7) and not night:
            night = name
    return day, night


def _u(cid: str) -> float:
    return int(hashlib.sha256(cid.encode()).hexdigest()[:8], 16) / 16**8


def test_run_then_worker_delivers_in_language_and_results_show_the_lift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    day_zone, night_zone = _zones(now)
    (tmp_path / "playbooks.toml").write_text(PLAYBOOKS)
    with smtp_server() as (inbox, port):
        config = tmp_path / "retain.toml"
        config.write_text(
            f'database_url = "sqlite:///{tmp_path / "app.db"}"\n'
            f'warehouse_url = "duckdb:///{tmp_path / "w.duckdb"}"\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_starttls = false\n'
            '[engage]\nsender = "news@shop.example"\nsender_name = "Tea Shop"\n'
            'postal_address = "1-2-3 Example, Tokyo"\ncontact = "help@shop.example"\n'
            'public_url = "http://127.0.0.1:8000"\n'
        )
        settings = get_settings(config)
        langs = ["en", "ja", "ko"]
        customers = pd.DataFrame(
            {
                "customer_id": [f"c{i}" for i in range(N)],
                "acquired_at": [now - dt.timedelta(days=400)] * N,
                "language": [langs[i % 3] for i in range(N)],
                "time_zone": [night_zone if i % 10 == 9 else day_zone for i in range(N)],
                "email": [f"c{i}@example.com" for i in range(N)],
                "email_opt_in": [i % 10 != 8 for i in range(N)],
                "attributes": [json.dumps({"first_name": f"N{i}"}) for i in range(N)],
            }
        )
        last = now - dt.timedelta(days=90)
        orders = pd.DataFrame(
            {
                "order_id": [f"o{i}" for i in range(N)],
                "customer_id": customers["customer_id"],
                "ordered_at": [last] * N,
                "amount": [20.0] * N,
            }
        )
        ingest("customers", customers, settings=settings)
        ingest("orders", orders, settings=settings)
        upgrade(settings.database_url)
        sessions = make_sessionmaker(make_engine(settings.database_url))
        with sessions() as session:
            session.add(Suppression(address="c0@example.com", reason="unsubscribed"))
            session.commit()
        run = make_invoker(config, monkeypatch)
        stamp = now.isoformat(timespec="seconds")
        ran = run("playbooks", "run", "--as-of", stamp)
        assert ran.exit_code == 0, ran.output
        worked = run("worker", "--once")
        assert worked.exit_code == 0, worked.output
        again = run("playbooks", "run", "--as-of", stamp)  # the re-entry rule: nothing new
        assert again.exit_code == 0, again.output

    ids = customers["customer_id"]
    eligible = {f"c{i}" for i in range(1, N) if i % 10 != 8}  # consent, not suppressed
    held = set(ids[in_holdout("winback-60", ids, 0.3)]) & eligible
    got = {str(m["To"]): m for m in inbox.messages}
    wanted = {
        f"c{i}@example.com"
        for i in range(N)
        if i % 10 not in (8, 9) and i != 0 and f"c{i}" not in held
    }
    assert set(got) == wanted  # no consent, suppressed, night-time and held out: no mail
    assert len(inbox.messages) == len(wanted)  # once each, the second run queued nothing
    template = load_template("winback", shipped_playbooks().template_dirs)
    for address, message in got.items():
        lang = langs[int(address[1:].split("@")[0]) % 3]
        subjects = [s for s, _ in template.languages[lang].values()]
        assert any(s in str(message["Subject"]) for s in subjects), (address, message["Subject"])
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    korean = [a for a in got if int(a[1:-12]) % 3 == 2]
    assert korean and all(str(got[a]["Subject"]).strip().startswith("(광고)") for a in korean)
    with sessions() as session:
        waiting = session.scalars(
            select(OutboxMessage).where(OutboxMessage.state == "queued")
        ).all()
    night = {f"c{i}" for i in range(N) if i % 10 == 9} - held
    assert {m.customer_id for m in waiting} == night  # quiet hours: kept for the morning
    assert all(m.next_attempt_at > now for m in waiting)

    # the planted effect: treated (mailed) customers order more often than the holdout
    treated = {a.split("@")[0] for a in got}
    buyers = [c for c in treated if _u(c) < CONVERT["treated"]]
    buyers += [c for c in held if _u(c) < CONVERT["holdout"]]
    later = now + dt.timedelta(days=5)  # after today: written past ingest's future-date check
    con = wh.connect(settings.warehouse_url)
    try:
        con.con.executemany(
            "INSERT INTO orders (order_id, customer_id, ordered_at, amount, status) "
            "VALUES (?, ?, ?, 30, 'completed')",
            [(f"w{c}", c, later) for c in buyers],
        )
    finally:
        con.disconnect()
    after = (now + dt.timedelta(days=40)).isoformat(timespec="seconds")
    shown = run("playbooks", "results", "winback-60", "--as-of", after, "--format", "json")
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.output)
    variants = result["variants"]
    assert sum(v["treated"]["customers"] for v in variants) == len(treated)
    assert len(variants) == len(template.variants) == 2  # A/B: reported per variant
    picked = dict(zip(ids, variant_of("winback-60", ids, template.variants), strict=True))
    base = sum(_u(c) < CONVERT["holdout"] for c in held) / len(held)
    for variant in variants:
        mine = [c for c in treated if picked[c] == variant["variant"]]
        assert variant["treated"]["customers"] == len(mine)
        assert variant["holdout"]["customers"] == len(held) > 40
        lift = variant["difference"]["conversion"]
        observed = sum(_u(c) < CONVERT["treated"] for c in mine) / len(mine) - base
        assert lift["estimate"] == pytest.approx(observed)
        assert lift["low"] < CONVERT["treated"] - CONVERT["holdout"] < lift["high"]
        assert lift["low"] > 0  # the lift is clear of zero at this size
        assert variant["goal"]["reached"] is True
    con = wh.connect(settings.warehouse_url)
    try:
        kinds = con.table("interactions").to_pandas()["kind"].value_counts().to_dict()
    finally:
        con.disconnect()
    assert kinds == {"message_sent": len(treated), "holdout": len(held)}
