"""The crash trial: kill -9 ``retain worker`` at random points while it delivers, restart, repeat.

Used by ``tests/engage/test_worker_crash.py`` (a small size) and ``benchmarks/engage_delivery.py``
(the issue's 10,000 messages and 20 crashes). Half the messages are e-mail to a real SMTP server,
half webhooks to a real HTTP receiver that honours idempotency keys. Each run of the worker is a
fresh process (``python -m retain worker --once``); the trial kills it once the receivers have
seen a random number of new deliveries, so every kill lands in the middle of delivering.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _delivery import SECRET, sessions_for, smtp_server, webhook_receiver

from retain.engage import outbox


@dataclass
class CrashResult:
    """What a trial measured."""

    messages: int
    crashes: int
    kills: int
    runs: int
    lost: int
    email_duplicates: int
    webhook_redeliveries: int
    webhook_duplicate_effects: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _env(database_url: str, smtp_port: int, lease: float, batch: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "RETAIN_DATABASE_URL": database_url,
            "RETAIN_SMTP_HOST": "127.0.0.1",
            "RETAIN_SMTP_PORT": str(smtp_port),
            "RETAIN_SMTP_STARTTLS": "false",
            "RETAIN_SMTP_TIMEOUT_SECONDS": "5",
            "RETAIN_ENGAGE__SENDER": "news@shop.example",
            "RETAIN_ENGAGE__WEBHOOK_SECRET": SECRET,
            "RETAIN_ENGAGE__WEBHOOK_ALLOW_PRIVATE": '["127.0.0.1/32"]',
            "RETAIN_ENGAGE__LEASE_SECONDS": str(lease),
            "RETAIN_ENGAGE__BATCH_SIZE": str(batch),
            "RETAIN_ENGAGE__BACKOFF_SECONDS": "0.05",
            "RETAIN_ENGAGE__BACKOFF_MAX_SECONDS": "0.2",
            "RETAIN_ENGAGE__MAX_ATTEMPTS": "1000",
        }
    )
    env.pop("RETAIN_CONFIG", None)
    return env


def crash_trial(
    database_url: str,
    workdir: Path,
    *,
    messages: int,
    crashes: int,
    seed: int = 0,
    lease: float = 1.0,
    batch: int = 20,
    timeout: float = 600.0,
) -> CrashResult:
    """Queue ``messages``, deliver them through ``crashes`` kill -9s, then count."""
    rng = random.Random(seed)
    started = time.monotonic()
    sessions = sessions_for(database_url)
    with smtp_server() as (smtp, port), webhook_receiver() as rx:
        with sessions() as session:
            for i in range(messages):
                email = i % 2 == 0
                outbox.enqueue(
                    session,
                    customer_id=f"C{i}",
                    channel="email" if email else "webhook",
                    recipient=f"c{i}@example.com" if email else rx.url,
                    payload={"subject": f"s{i}", "body": "b"} if email else {"i": i},
                    idempotency_key=f"crash-{i}",
                )
            session.commit()
        env = _env(database_url, port, lease, batch)
        command = [sys.executable, "-m", "retain", "worker", "--once", "--no-interactions"]

        def delivered() -> int:
            return len(smtp.messages) + len(rx.requests)

        kills = runs = 0
        while kills < crashes and time.monotonic() - started < timeout:
            remaining = max(messages - delivered(), 1)
            target = delivered() + rng.randint(1, max(1, 2 * remaining // (crashes - kills + 1)))
            proc = subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.DEVNULL)
            runs += 1
            while proc.poll() is None and delivered() < target:
                time.sleep(0.002)
            if proc.poll() is None:
                time.sleep(rng.uniform(0, 0.005))  # land anywhere in a send
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            if delivered() >= messages and _all_sent(sessions):
                break
        while not _all_sent(sessions) and time.monotonic() - started < timeout:
            subprocess.run(command, env=env, cwd=workdir, stdout=subprocess.DEVNULL, check=True)
            runs += 1
            if not _all_sent(sessions):
                time.sleep(lease)  # rows a killed worker held come due when its lease ends
        email_ids = smtp.message_ids()
        hook_keys: dict[str, int] = {}
        for request in rx.requests:
            key = request["headers"]["Idempotency-Key"]
            hook_keys[key] = hook_keys.get(key, 0) + 1
        expected_email = (messages + 1) // 2
        expected_hooks = messages // 2
        lost = (expected_email - len(email_ids)) + (expected_hooks - len(rx.accepted))
        return CrashResult(
            messages=messages,
            crashes=crashes,
            kills=kills,
            runs=runs,
            lost=lost,
            email_duplicates=sum(c - 1 for c in email_ids.values()),
            webhook_redeliveries=sum(c - 1 for c in hook_keys.values()),
            webhook_duplicate_effects=len(rx.accepted)
            - len({body["id"] for body in rx.accepted.values()}),
            seconds=time.monotonic() - started,
        )


def _all_sent(sessions: Any) -> bool:
    with sessions() as session:
        counts = outbox.counts(session)
    return counts["sent"] == sum(counts.values())
