"""Delivery benchmark (issue 19): crash safety at full size, and SMTP throughput of one worker.

    .venv/bin/python benchmarks/engage_delivery.py                      # 10,000 x 20 crashes
    .venv/bin/python benchmarks/engage_delivery.py --messages 1000 --crashes 5
    .venv/bin/python benchmarks/engage_delivery.py --postgres URL       # also on PostgreSQL
    .venv/bin/python benchmarks/engage_delivery.py --skip-crash --throughput 5000

The crash trial (``tests/engage/_crash.py``) kills ``retain worker`` with SIGKILL at random
points while it delivers half the messages by e-mail to a loopback aiosmtpd server and half as
webhooks to a loopback receiver that honours idempotency keys, restarts it, and counts lost
messages and duplicates. Targets: none lost; e-mail duplicates at most one per crash; no webhook
acted on twice. Throughput: one in-process worker to the loopback SMTP server, at least 200
messages/s. Prints the load average beside each number (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "engage"))

from _crash import crash_trial
from _delivery import engage_settings, free_port, sessions_for

from retain.engage import outbox
from retain.engage.worker import Worker


@contextmanager
def sink_server() -> Iterator[int]:
    """An aiosmtpd server that accepts and drops mail, in its own process (as in production)."""
    port = free_port()
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    proc = subprocess.Popen([*command, "-c", "aiosmtpd.handlers.Sink"])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait()


def throughput(n: int, workdir: Path) -> tuple[float, float]:
    """Messages per second one worker hands to a loopback SMTP server (SQLite outbox).

    Returns the rate by wall clock and by the worker's CPU time (the rate on a core of its own,
    which a shared, loaded machine does not give it).
    """
    url = f"sqlite:///{workdir / 'throughput.db'}"
    sessions = sessions_for(url)
    with sink_server() as port:
        settings = engage_settings(workdir, url, port, batch_size=100, lease_seconds=60)
        with sessions() as session:
            for i in range(n):
                outbox.enqueue(
                    session,
                    customer_id=f"C{i}",
                    channel="email",
                    recipient=f"c{i}@example.com",
                    payload={"subject": "Hello", "body": "We miss you."},
                    idempotency_key=f"tp-{i}",
                )
            session.commit()
        started, cpu = time.perf_counter(), time.process_time()
        report = Worker(settings, sessions, log_interactions=False).drain()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert report.sent == n, report
    return n / seconds, n / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--crashes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--postgres", help="also run the crash trial on this PostgreSQL URL")
    parser.add_argument("--throughput", type=int, default=2000, help="messages (0: skip)")
    parser.add_argument("--skip-crash", action="store_true")
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.throughput:
            rate, cpu_rate = throughput(args.throughput, work)
            results["smtp_messages_per_second"] = round(rate, 1)
            results["smtp_messages_per_cpu_second"] = round(cpu_rate, 1)
            results["load_average_throughput"] = os.getloadavg()[0]
            print(
                f"throughput: {rate:,.0f} messages/s wall, {cpu_rate:,.0f} per CPU second "
                f"(load {os.getloadavg()[0]:.1f})"
            )
        if not args.skip_crash:
            urls = {"sqlite": f"sqlite:///{work / 'crash.db'}"}
            if args.postgres:
                urls["postgres"] = args.postgres
            for name, url in urls.items():
                result = crash_trial(
                    url,
                    work,
                    messages=args.messages,
                    crashes=args.crashes,
                    seed=args.seed,
                    timeout=3600,
                )
                results[f"crash_{name}"] = result.as_dict() | {"load": os.getloadavg()[0]}
                print(f"crash trial on {name}: {result}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
