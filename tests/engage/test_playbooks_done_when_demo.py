"""Issue 19's "done when" on the demo itself, through the command line with a real SMTP server.

``retain demo`` builds a small demo business whose window ends this month; its history holds
past runs of the shipped playbooks (decided by retain's engine) with a planted effect per
playbook (``demo_truth_playbooks``). Then, as of now: ``retain playbooks run`` decides and
queues, ``retain worker --once`` delivers to a loopback aiosmtpd server, every customer reads the
mail in their language (ja, ko, en), and every guardrail holds (consent, a suppressed address,
caps, quiet hours, the holdout). ``retain playbooks results`` then shows each playbook's lift
against its holdout, and it matches what the demo planted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from _delivery import smtp_server
from sqlalchemy import select

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.app.db import make_engine, make_sessionmaker
from retain.config import get_settings
from retain.engage._tables import OutboxMessage, Suppression
from retain.engage.holdout import in_holdout, variant_of
from retain.engage.messages import load_template
from retain.engage.playbooks import shipped_playbooks

CUSTOMERS = 3_000


def _window_start(now: dt.datetime) -> str:
    """The first day of the month two years back: a 24-month demo then ends this month."""
    index = now.year * 12 + now.month - 1 - 24
    return f"{index // 12:04d}-{index % 12 + 1:02d}-01"


def _json(result: object) -> object:
    """The JSON a command printed after any notes (a playbook left out of the run, say)."""
    text = str(result.output)  # type: ignore[attr-defined]
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line[:1] in "[{")
    return json.loads("\n".join(lines[first:]))


def _table(settings: object, name: str) -> pd.DataFrame:
    con = wh.connect(settings.warehouse_url)  # type: ignore[attr-defined]
    try:
        frame: pd.DataFrame = con.table(name).to_pandas()
    finally:
        con.disconnect()
    return frame


@pytest.mark.slow
def test_demo_run_then_worker_delivers_and_results_match_the_planted_effects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    playbooks = shipped_playbooks()
    with smtp_server() as (inbox, port):
        config = tmp_path / "retain.toml"
        config.write_text(
            f'database_url = "sqlite:///{tmp_path / "app.db"}"\n'
            f'warehouse_url = "duckdb:///{tmp_path / "w.duckdb"}"\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_starttls = false\n'
            '[engage]\nsender = "news@shop.example"\nsender_name = "Demo Shop"\n'
            'postal_address = "1-2-3 Example, Tokyo"\ncontact = "help@shop.example"\n'
            'public_url = "http://127.0.0.1:8000"\n'
        )
        settings = get_settings(config)
        run = make_invoker(config, monkeypatch)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        built = run(
            "demo",
            "--customers",
            str(CUSTOMERS),
            "--start",
            _window_start(now),
            "--out",
            str(tmp_path / "data"),
        )
        assert built.exit_code == 0, built.output
        assert (tmp_path / "data" / "truth_playbooks.csv").is_file()
        customers = _table(settings, "customers").set_index("customer_id")
        stamp = now.isoformat(timespec="seconds")
        first = run("playbooks", "run", "--as-of", stamp, "--dry-run", "--format", "json")
        assert first.exit_code == 0, first.output
        planned = pd.DataFrame(_json(first))
        going = planned[planned["status"] == "send"]
        assert len(going) > 20, planned["status"].value_counts()
        # suppress one address that was about to be mailed: it must get nothing now
        victim, victim_playbook = (str(v) for v in going[["customer_id", "playbook"]].iloc[0])
        address = str(customers.loc[victim, "email"])
        sessions = make_sessionmaker(make_engine(settings.database_url))
        with sessions() as session:
            session.add(Suppression(address=address.lower(), reason="unsubscribed"))
            session.commit()
        dry = run("playbooks", "run", "--as-of", stamp, "--dry-run", "--format", "json")
        decisions = pd.DataFrame(_json(dry))
        mine = (decisions["customer_id"] == victim) & (decisions["playbook"] == victim_playbook)
        assert decisions.loc[mine, "reason"].to_list() == ["suppressed"]
        ran = run("playbooks", "run", "--as-of", stamp)
        assert ran.exit_code == 0, ran.output
        worked = run("worker", "--once")
        assert worked.exit_code == 0, worked.output
        again = run("playbooks", "run", "--as-of", stamp)  # the re-entry rule: nothing new
        assert again.exit_code == 0, again.output
        first_round = len(inbox.messages)
        with sessions() as session:
            rows = session.scalars(select(OutboxMessage)).all()
        # quiet hours: night-time decisions wait in the outbox for the local morning
        delayed = decisions[decisions["status"] == "delayed"]
        waiting = {(r.playbook, r.customer_id) for r in rows if r.state == "queued"}
        assert set(zip(delayed["playbook"], delayed["customer_id"], strict=True)) == waiting
        assert all(r.next_attempt_at > now for r in rows if r.state == "queued")
        assert first_round == int((decisions["status"] == "send").sum())
        # ... the morning comes (their time is moved, not the clock): the worker delivers them
        with sessions() as session:
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.state == "queued")
            ):
                row.next_attempt_at = now - dt.timedelta(minutes=1)
            session.commit()
        morning = run("worker", "--once")
        assert morning.exit_code == 0, morning.output
        mailed = list(inbox.messages)

    with sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    by_id = {r.message_id: r for r in rows}
    sent = decisions[
        decisions["status"].isin(["send", "delayed"]) & (decisions["channel"] == "email")
    ]
    decided = sent.set_index(["playbook", "customer_id"])
    # every decided send arrived once, nothing else did
    pairs = [by_id[str(m["X-Retain-Message"])] for m in mailed]
    got = Counter((r.playbook, r.customer_id) for r in pairs)
    assert set(got) == set(zip(sent["playbook"], sent["customer_id"], strict=True))
    assert max(got.values()) == 1
    languages = set()
    for message in mailed:
        row = by_id[str(message["X-Retain-Message"])]
        customer = customers.loc[row.customer_id]
        # consent and suppression: only opted-in, unsuppressed addresses
        assert bool(customer["email_opt_in"]) and str(message["To"]) == customer["email"]
        assert str(message["To"]).lower() != address.lower()
        # the customer's language picks the template (the demo has ja, ko and en customers)
        playbook = playbooks.get(row.playbook)
        lang = str(customer["language"])
        decision = decided.loc[(row.playbook, row.customer_id)]
        subject = str(message["Subject"])
        assert decision["language"] == row.language == lang
        assert str(decision["subject"]) in subject, (lang, subject)
        if lang == "ko" and playbook.category == "marketing":
            assert subject.strip().startswith("(광고)")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        languages.add(lang)
        # the holdout is never mailed, and the variant is the stable one
        assert not in_holdout(row.playbook, [row.customer_id], playbook.holdout)[0]
    assert languages == {"ja", "ko", "en"}
    # caps: nobody gets more than the caps allow in the window
    caps = playbooks.caps
    per_customer = Counter(r.customer_id for r in rows if not r.idempotency_key.endswith(":task"))
    assert max(per_customer.values()) <= caps.global_limit
    marketing = Counter(
        r.customer_id for r in rows if playbooks.get(r.playbook).category == "marketing"
    )
    assert not marketing or max(marketing.values()) <= caps.categories["marketing"]
    # held-out customers of this run got nothing from that playbook
    held = decisions[decisions["status"] == "holdout"]
    assert not set(zip(held["playbook"], held["customer_id"], strict=True)) & set(got)

    # results: each playbook's lift against its holdout, matching what the demo planted
    truth = _table(settings, "demo_truth_playbooks").set_index("playbook")
    outcomes = _table(settings, "demo_truth_playbook_customers")
    assert truth.loc["winback-60", "n_treatment"] > 100
    checked = 0
    for name, planted in truth.iterrows():
        shown = run("playbooks", "results", name, "--as-of", stamp, "--format", "json")
        assert shown.exit_code == 0, shown.output
        result = _json(shown)
        assert result["window_days"] == planted["window_days"]  # type: ignore[index]
        mine = outcomes[outcomes["playbook"] == name]
        control = mine[mine["group"] == "control"]
        for variant in result["variants"]:  # type: ignore[index]
            treated = mine[(mine["group"] == "treatment") & (mine["variant"] == variant["variant"])]
            # the data are the planted potential outcomes: y1 for the treated, y0 for the holdout
            assert variant["treated"]["customers"] == len(treated)
            assert variant["holdout"]["customers"] == len(control)
            assert variant["treated"]["conversion"] == pytest.approx(treated["y1"].mean())
            lift = variant["difference"]["conversion"]
            if lift is None or len(control) < 10:
                continue
            assert variant["holdout"]["conversion"] == pytest.approx(control["y0"].mean())
            # ... and the measured lift is close to the planted effect (within 4 standard errors)
            se = (lift["high"] - lift["low"]) / (2 * 1.96)
            assert abs(lift["estimate"] - planted["true_effect"]) <= 4 * se + 1e-9, (name, lift)
            checked += 1
    assert checked >= 3
    # the past runs used the library's stable hashes: holdout and variant
    for name in truth.index:
        playbook = playbooks.get(name)
        mine = outcomes[outcomes["playbook"] == name]
        ids = mine["customer_id"].astype(str)
        assert (in_holdout(name, ids, playbook.holdout) == (mine["group"] == "control")).all()
        variants = load_template(playbook.template, playbooks.template_dirs).variants
        treated = mine["group"] == "treatment"
        assert (variant_of(name, ids[treated], variants) == mine.loc[treated, "variant"]).all()
