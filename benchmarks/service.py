"""Service benchmark (issue 8): reads at a fixed rate and concurrent event ingest over loopback.

The server runs in its own process (``uvicorn`` serving ``retain.app.main.create_app``); this
script is the load generator, in a second process.

1. Reads: customer 360 (``GET /api/v1/customers/{id}``) and single-customer scores
   (``GET /api/v1/customers/{id}/scores``), half each, at a fixed 200 requests/s (open loop:
   latency is measured from each request's scheduled start, so a slow server cannot hide
   queueing). Target: p99 under 50 ms.
2. Ingest: 10 concurrent clients post batches of events (``POST /api/v1/ingest/events``, each
   with an ``Idempotency-Key``; a share of batches is sent twice, as a retrying client would).
   Target: at least 5,000 events/s.
3. Exactly once: after the run the server stops and the warehouse is opened directly; every
   acknowledged event id must be stored exactly once, and nothing else.
4. Mixed reads (issue 16 item 18): at-risk list pages (a fifth: the first pages, later pages by
   cursor, filters by country and band) and customer 360 reads, at 200 requests/s open loop.
   Target: p99 under 100 ms on 2 cores. The same mix runs first against the code of
   ``--baseline-rev`` (extracted with ``git archive``, served from the same warehouse file) for
   ``--baseline-seconds``, so the figure is printed beside the old one; requests the service
   sheds (503 with Retry-After) are counted apart from the answered ones.
5. CPU per request (issue 16 item 18, second round): the mix's two kinds, 400 requests each
   one after another, and the server process's CPU time (``/proc``, all threads) divided by
   them; the same for the code of ``--cpu-baseline-rev`` first. Unlike latency this hardly
   depends on what else the machine runs. Target: well under 5 ms per read, so 200 reads/s
   fit in one core. The mixed phases print the server's and this client's CPU too.

The mixed and CPU phases use a small asyncio HTTP/1.1 keep-alive client (:class:`_Http`, about
0.1-0.2 ms of CPU per request) rather than httpx (about a millisecond), since client and server
share the same two cores.

Data: the demo business (``retain.demo.generate``, 20,000 customers over 24 months by default)
loaded into a DuckDB warehouse, plus one synthetic churn score and CLV per customer (the
benchmark measures serving, not modelling).

Usage::

    .venv/bin/python benchmarks/service.py                 # full size (20,000 customers)
    .venv/bin/python benchmarks/service.py --customers 5000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

import service_trace

READ_RATE = 200
P99_TARGET_MS = 50.0
MIX_P99_TARGET_MS = 100.0
AT_RISK_SHARE = 0.2
BASELINE_REV = "e92f7fe"
"""The last commit before the concurrent reads of issue 16 item 18."""
MIX_CONNECTIONS = 64
"""Requests the mixed-read client keeps open at most (keep-alive connections)."""
CPU_REQUESTS = 400
"""Requests per kind in the CPU-per-request measurement."""
CPU_TARGET_MS = 5.0
"""Server CPU per read the mix may cost: 200 requests/s must leave room on two cores."""
CPU_BASELINE_REV = "6fe55a8"
"""The last commit before the per-request CPU work of issue 16 item 18 (second round)."""
INGEST_TARGET = 5_000.0
CLIENTS = 10


def build_warehouse(folder: Path, customers: int, seed: int) -> list[str]:
    """Demo business + synthetic scores in ``folder/warehouse.duckdb``; returns customer ids."""
    import retain.warehouse as wh
    from retain.demo import generate

    business = generate(customers=customers, seed=seed)
    con = wh.connect(f"duckdb:///{folder / 'warehouse.duckdb'}")
    wh.create_tables(con)
    for name, frame in business.tables.items():
        wh.write_table(con, name, frame, mode="replace")
    ids = business.tables["customers"].customer_id.astype(str).tolist()
    rng = np.random.default_rng(seed)
    as_of = pd.Timestamp(business.tables["orders"].ordered_at.max()).normalize()
    p = rng.beta(1.5, 3.0, len(ids))
    reasons = json.dumps(
        [{"key": "reasons.no_recent_orders", "params": {"days": 120}, "contribution": 0.3}]
    )
    wh.write_table(
        con,
        "churn_scores",
        pd.DataFrame(
            {
                "customer_id": ids,
                "as_of": as_of,
                "definition": "default",
                "probability": p,
                "risk_band": np.where(p >= 0.6, "high", np.where(p >= 0.3, "medium", "low")),
                "reasons": reasons,
                "model_version": "bench",
                "scored_at": as_of,
            }
        ),
        mode="replace",
    )
    wh.write_table(
        con,
        "clv_scores",
        pd.DataFrame(
            {
                "customer_id": ids,
                "as_of": as_of,
                "model_version": "bench",
                "frequency": rng.poisson(2, len(ids)).astype(float),
                "recency": 10.0,
                "T": 50.0,
                "monetary_value": 60.0,
                "probability_alive": 1 - p,
                "expected_purchases": 1.5,
                "expected_spend": 60.0,
                "clv": rng.gamma(2.0, 150.0, len(ids)),
                "currency": "USD",
                "horizon_months": 12,
            }
        ),
        mode="replace",
    )
    con.disconnect()
    return ids


def serve(folder: Path, port: int) -> None:
    """Server process: the service over the benchmark warehouse (blocks).

    ``kill -USR1`` prints every thread's stack (a stalled run can be looked into); ``kill
    -USR2`` writes the server trace (:mod:`service_trace`) beside the warehouse.
    """
    import faulthandler
    import gc
    import signal

    import uvicorn

    faulthandler.register(signal.SIGUSR1, all_threads=True)

    from retain.app import main as app_main
    from retain.app.main import create_app
    from retain.config import Settings

    prepare_process = getattr(app_main, "prepare_process", None)

    settings = Settings(
        warehouse_url=f"duckdb:///{folder / 'warehouse.duckdb'}",
        database_url=f"sqlite:///{folder / 'app.db'}",
        models_dir=folder / "models",
    )
    app = create_app(settings, migrate=True)
    if prepare_process is not None:
        prepare_process()  # as retain serve does: the collector tuned for serving
    else:  # the code of an older revision
        gc.collect()
        gc.freeze()
    trace = service_trace.install(folder / f"trace-{port}.json")
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=60,
        backlog=4096,
    )

    async def run() -> None:
        monitor = asyncio.get_running_loop().create_task(service_trace.lag_monitor(trace))
        await uvicorn.Server(config).serve()
        monitor.cancel()

    asyncio.run(run())


def make_key(folder: Path) -> str:
    """An admin API key in the benchmark's app database."""
    from retain.app.auth import service as auth
    from retain.app.db import make_engine, make_sessionmaker, upgrade

    url = f"sqlite:///{folder / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        _, raw = auth.create_api_key(session, name="bench", role="admin", created_by="bench")
        session.commit()
    engine.dispose()
    return raw


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reads(
    base: str, key: str, ids: list[str], seconds: float, rate: float = READ_RATE
) -> dict[str, list[float]]:
    """Open loop: request i is due at start + i / rate; 32 sender threads take them in order."""
    import queue

    n = int(rate * seconds)
    rnd = random.Random(11)
    jobs: queue.Queue[tuple[int, str, str] | None] = queue.Queue()
    lat: dict[str, list[float]] = {"360": [], "scores": []}
    errors = [0]
    lock = threading.Lock()
    # Clients are made before the clock starts: building one (TLS context) takes tens of ms.
    clients = [
        httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) for _ in range(32)
    ]
    for i in range(n):
        kind = "360" if i % 2 == 0 else "scores"
        path = f"/api/v1/customers/{rnd.choice(ids)}" + ("" if kind == "360" else "/scores")
        jobs.put((i, kind, path))
    for _ in clients:
        jobs.put(None)
    ready = threading.Barrier(len(clients) + 1)
    start = 0.0

    def sender(client: httpx.Client) -> None:
        ready.wait()
        while (job := jobs.get()) is not None:
            i, kind, path = job
            scheduled = start + i / rate
            time.sleep(max(0.0, scheduled - time.perf_counter()))
            try:
                ok = client.get(path).status_code == 200
            except httpx.TransportError:
                ok = False
            elapsed = (time.perf_counter() - scheduled) * 1000
            with lock:
                lat[kind].append(elapsed)
                errors[0] += 0 if ok else 1

    threads = [threading.Thread(target=sender, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.1
    ready.wait()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    if errors[0]:
        print(f"  read errors: {errors[0]}")
    return lat


def _capacity(
    base: str, key: str, ids: list[str], seconds: float, workers: int = 8
) -> tuple[float, list[float]]:
    """Closed loop: ``workers`` callers back to back; returns (requests/s, latencies in ms)."""
    lat: list[float] = []
    lock = threading.Lock()
    clients = [
        httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) for _ in range(workers)
    ]
    stop = time.perf_counter() + seconds

    def worker(w: int, client: httpx.Client) -> None:
        rnd = random.Random(w)
        i = w
        while time.perf_counter() < stop:
            path = f"/api/v1/customers/{rnd.choice(ids)}" + ("" if i % 2 == 0 else "/scores")
            t = time.perf_counter()
            client.get(path)
            with lock:
                lat.append((time.perf_counter() - t) * 1000)
            i += 1

    threads = [threading.Thread(target=worker, args=(w, c)) for w, c in enumerate(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    return len(lat) / (time.perf_counter() - t0), lat


def _ingest(
    base: str, key: str, ids: list[str], batches: int, batch_size: int, retry_share: float
) -> tuple[set[str], float, int]:
    acked: set[str] = set()
    lock = threading.Lock()
    failures = [0]

    def client(c: int) -> None:
        rnd = random.Random(c)
        with httpx.Client(base_url=base, timeout=120) as http:
            for b in range(batches):
                records = [
                    {
                        "event_id": f"bench-{c}-{b}-{i}",
                        "customer_id": rnd.choice(ids),
                        "occurred_at": "2024-06-01T10:00:00Z",
                        "name": "page_view",
                        "channel": "web",
                    }
                    for i in range(batch_size)
                ]
                hdrs = {"X-API-Key": key, "Idempotency-Key": f"bench-{c}-{b}"}
                sends = 2 if rnd.random() < retry_share else 1
                for _ in range(sends):
                    r = http.post("/api/v1/ingest/events", json={"records": records}, headers=hdrs)
                    if r.status_code != 200:
                        with lock:
                            failures[0] += 1
                        continue
                    body = r.json()
                    bad = {e["record_id"] for e in body["errors"]}
                    with lock:
                        acked.update(
                            rec["event_id"] for rec in records if rec["event_id"] not in bad
                        )

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acked, time.perf_counter() - t0, failures[0]


def _mix_paths(base: str, key: str, ids: list[str], n: int) -> list[tuple[str, str]]:
    """``n`` (kind, path) requests: at-risk pages (share :data:`AT_RISK_SHARE`) and 360 reads."""
    pages = ["/api/v1/customers/at-risk"]
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=300) as client:
        cursor = None
        for _ in range(4):  # later pages, as an agent working down the list asks for them
            got = client.get(
                "/api/v1/customers/at-risk", params={"cursor": cursor} if cursor else None
            )
            cursor = got.json().get("next_cursor") if got.status_code == 200 else None
            if not cursor:
                break
            pages.append(f"/api/v1/customers/at-risk?cursor={cursor}")
    pages += [
        "/api/v1/customers/at-risk?risk_band=high",
        "/api/v1/customers/at-risk?risk_band=high&risk_band=medium&risk_band=low",
        *(f"/api/v1/customers/at-risk?country={c}" for c in ("US", "jp", "KR", "gb")),
        "/api/v1/customers/at-risk?sort=probability",
    ]
    rnd = random.Random(13)
    return [
        ("at-risk", rnd.choice(pages))
        if rnd.random() < AT_RISK_SHARE
        else ("360", f"/api/v1/customers/{rnd.choice(ids)}")
        for _ in range(n)
    ]


def _mix(
    base: str, key: str, jobs_in: list[tuple[str, str]], rate: float, timeout: float
) -> tuple[dict[str, list[float]], int, int, list[tuple[float, float]]]:
    """Open loop over ``jobs_in`` at ``rate``; (latencies of 200s by kind, shed, failed, slow).

    ``slow`` holds (when it was due on the monotonic clock, latency in s) of each request
    slower than :data:`service_trace.SLOW_MS`, for :func:`service_trace.print_summary`.

    At most :data:`MIX_CONNECTIONS` requests are open at once (each on a keep-alive connection
    of :class:`_Http`); a request due while all are busy waits for one, and its latency counts
    from when it was due.
    """
    host, port = base.removeprefix("http://").rsplit(":", 1)
    lat: dict[str, list[float]] = {"at-risk": [], "360": []}
    counts = {"shed": 0, "failed": 0}
    slow: list[tuple[float, float]] = []

    async def run() -> None:
        http = _Http(host, int(port), key)
        slots = asyncio.Semaphore(MIX_CONNECTIONS)
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.1

        async def one(i: int, kind: str, path: str) -> None:
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            async with slots:
                try:
                    status, _ = await asyncio.wait_for(http.get(path), timeout)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    status = 0
            elapsed = (loop.time() - scheduled) * 1000
            if elapsed > service_trace.SLOW_MS:  # loop.time() is time.monotonic()
                slow.append((scheduled, elapsed / 1000))
            if status == 200:
                lat[kind].append(elapsed)
            else:
                counts["shed" if status in {429, 503} else "failed"] += 1

        await asyncio.gather(*(one(i, kind, path) for i, (kind, path) in enumerate(jobs_in)))
        http.close()

    asyncio.run(run())
    return lat, counts["shed"], counts["failed"], slow


def _cpu_per_request(
    base: str, pid: int, key: str, paths: dict[str, list[str]]
) -> dict[str, tuple[float, float]]:
    """Server and client CPU ms per request, by kind: the paths one after another.

    The server's CPU is read from ``/proc`` (all its threads) before and after, so the figure
    does not depend on what else the machine runs (unlike latency); the client's is this
    process's. Each kind is warmed up first (its first 20 paths, and every list page once).
    """
    host, port = base.removeprefix("http://").rsplit(":", 1)
    found: dict[str, tuple[float, float]] = {}

    async def run() -> None:
        http = _Http(host, int(port), key)
        for kind, todo in paths.items():
            for path in dict.fromkeys(todo[:20] + [p for p in todo if "at-risk" in p]):
                await http.get(path)  # every list page once: a first page builds its frame
            server, client = _server_cpu(pid), time.process_time()
            for path in todo:
                status, _ = await http.get(path)
                if status != 200:
                    raise SystemExit(f"{kind} {path}: status {status}")
            found[kind] = (
                (_server_cpu(pid) - server) * 1000 / len(todo),
                (time.process_time() - client) * 1000 / len(todo),
            )
        http.close()

    asyncio.run(run())
    return found


def _print_cpu(label: str, base: str, pid: int, key: str, mix: list[tuple[str, str]]) -> None:
    """Print :func:`_cpu_per_request` for the mix's two kinds (:data:`CPU_REQUESTS` each)."""
    by_kind: dict[str, list[str]] = {"at-risk": [], "360": []}
    for kind, path in mix:
        by_kind[kind].append(path)
    cpu = _cpu_per_request(base, pid, key, {k: v[:CPU_REQUESTS] for k, v in by_kind.items()})
    for kind, (server, client) in cpu.items():
        print(
            f"  {label}: CPU per request, {kind:>7}: server {server:5.2f} ms, client "
            f"{client:5.2f} ms ({CPU_REQUESTS} one after another; target server < "
            f"{CPU_TARGET_MS:g} ms)"
        )


class _Http:
    """A minimal HTTP/1.1 keep-alive GET client over asyncio streams (the benchmark's client).

    httpx costs the client about a millisecond of CPU per request, on the same two cores as the
    server; this costs a fraction of that, so the server gets the CPU the figures are about.
    """

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nX-API-Key: {key}\r\n\r\n".encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` on an idle connection (or a new one); (status, body)."""
        conn = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
        reader, writer = conn
        try:
            writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            if "content-length" in fields:
                body = await reader.readexactly(int(fields["content-length"]))
            else:  # chunked
                parts = []
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    parts.append(await reader.readexactly(size))
                    await reader.readexactly(2)
                await reader.readexactly(2)
                body = b"".join(parts)
        except BaseException:
            writer.close()
            raise
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append(conn)
        return status, body

    def close(self) -> None:
        """Close the idle connections."""
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _print_mix(
    label: str,
    lat: dict[str, list[float]],
    shed: int,
    failed: int,
    cost: tuple[float, float, float],
) -> float:
    """Print one mixed-read run and its CPU ``cost``; returns its p99 over answered requests."""
    both = lat["at-risk"] + lat["360"]
    p99 = _pct(both, 99)
    server, client, wall = cost
    requests = len(both) + shed + failed
    print(f"  {label}: {len(both):,} answered, {shed:,} shed (503/429), {failed:,} failed")
    print(
        f"    CPU: server {server:.1f} s ({server * 1000 / max(requests, 1):.2f} ms per request, "
        f"{server / wall:.2f} cores), client {client:.1f} s "
        f"({client * 1000 / max(requests, 1):.2f} ms per request) over {wall:.1f} s"
    )
    for kind, values in lat.items():
        print(
            f"    {kind:>7}: n {len(values):5,}  p50 {_pct(values, 50):8.1f} ms  "
            f"p99 {_pct(values, 99):8.1f} ms"
        )
    print(
        f"        all: p50 {_pct(both, 50):8.1f} ms  p99 {p99:8.1f} ms  "
        f"(target p99 < {MIX_P99_TARGET_MS:.0f} ms: ratio {p99 / MIX_P99_TARGET_MS:.2f})"
    )
    return p99


def _start_server(folder: Path, port: int, src: Path | None = None) -> subprocess.Popen[bytes]:
    """The server process (the code under ``src`` when given, else this checkout's)."""
    env = {**os.environ}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(folder), "--port", str(port)], env=env
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return server


def _old_code(folder: Path, rev: str) -> Path:
    """The ``src`` folder of commit ``rev``, extracted under ``folder`` (``git archive``)."""
    old = folder / f"code-{rev}"
    if not old.exists():
        old.mkdir()
        root = Path(__file__).resolve().parents[1]
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", rev, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    return old / "src"


def _baseline_mix(
    folder: Path, key: str, ids: list[str], rev: str, seconds: float, rate: float
) -> None:
    """The mixed reads against the code of ``rev`` (the figure the new one is compared with)."""
    port = _free_port()
    server = _start_server(folder, port, _old_code(folder, rev))
    base = f"http://127.0.0.1:{port}"
    try:
        jobs = _mix_paths(base, key, ids, int(rate * seconds))
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=300) as warm:
            for _, path in jobs[:10]:
                warm.get(path)
        lat, shed, failed, cpu, trace = _measured_mix(
            base, server.pid, key, jobs, rate, folder / f"trace-{port}.json"
        )
        print(f"mixed reads, old code ({rev}), {rate:g} req/s for {seconds:g} s:")
        _print_mix(f"old code {rev}", lat, shed, failed, cpu)
        trace()
    finally:
        server.terminate()
        server.wait(timeout=60)


def _baseline_cpu(folder: Path, key: str, ids: list[str], rev: str) -> None:
    """CPU per request of the code of ``rev`` (before the per-request work of item 18)."""
    port = _free_port()
    server = _start_server(folder, port, _old_code(folder, rev))
    base = f"http://127.0.0.1:{port}"
    try:
        _print_cpu(f"code {rev}", base, server.pid, key, _mix_paths(base, key, ids, 4000))
    finally:
        server.terminate()
        server.wait(timeout=60)


def _measured_mix(
    base: str, pid: int, key: str, jobs: list[tuple[str, str]], rate: float, trace_file: Path
) -> tuple[dict[str, list[float]], int, int, tuple[float, float, float], Callable[[], None]]:
    """:func:`_mix` and what it cost: (server CPU s, client CPU s, wall s) besides its result.

    The last item prints the server's trace over the mix (``trace_file``: where the server
    ``pid`` writes it); call it after printing the rest.
    """
    server, client, wall = _server_cpu(pid), time.process_time(), time.perf_counter()
    began = time.monotonic()
    lat, shed, failed, slow = _mix(base, key, jobs, rate, timeout=30.0)
    cost = (
        _server_cpu(pid) - server,
        time.process_time() - client,
        time.perf_counter() - wall,
    )
    window = (began, time.monotonic())

    def summary() -> None:
        trace = service_trace.read(trace_file, pid)
        service_trace.print_summary(trace, window, slow)

    return lat, shed, failed, cost, summary


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the read phase")
    parser.add_argument("--rate", type=float, default=READ_RATE, help="read requests/s")
    parser.add_argument("--batches", type=int, default=10, help="batches per ingest client")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--retry-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mix-seconds", type=float, default=15.0, help="mixed-read phase")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="old code for the mix")
    parser.add_argument(
        "--baseline-seconds", type=float, default=3.0, help="mixed reads on the old code"
    )
    parser.add_argument(
        "--cpu-baseline-rev",
        default=CPU_BASELINE_REV,
        help="old code whose CPU per request is printed first ('' to skip)",
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    with tempfile.TemporaryDirectory(prefix="retain-bench-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        ids = build_warehouse(folder, args.customers, args.seed)
        print(
            f"warehouse: {len(ids):,} customers (demo, seed {args.seed}) "
            f"built in {time.perf_counter() - t:.1f} s"
        )
        key = make_key(folder)
        if args.cpu_baseline_rev:
            _baseline_cpu(folder, key, ids, args.cpu_baseline_rev)
        if args.baseline_rev and args.baseline_seconds > 0:
            _baseline_mix(folder, key, ids, args.baseline_rev, args.baseline_seconds, args.rate)
        port = _free_port()
        server = _start_server(folder, port)
        base = f"http://127.0.0.1:{port}"
        try:
            jobs = _mix_paths(base, key, ids, int(args.rate * args.mix_seconds))
            t = time.perf_counter()
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as warm:
                for i in range(20):  # warm up both endpoints (the first builds the indexes)
                    warm.get(f"/api/v1/customers/{ids[i]}")
                    warm.get(f"/api/v1/customers/{ids[i]}/scores")
            print(f"warm-up (serving indexes built on first read): {time.perf_counter() - t:.1f} s")
            rps, closed = _capacity(base, key, ids, 10.0)
            print(
                f"capacity (8 callers back to back, 10 s, 360 and scores alternating): "
                f"{rps:,.0f} requests/s, p50 {_pct(closed, 50):.1f} ms, "
                f"p99 {_pct(closed, 99):.1f} ms"
            )
            lat = _reads(base, key, ids, args.seconds, args.rate)
            print(
                f"reads at {args.rate:g} req/s for {args.seconds:.0f} s "
                f"({sum(map(len, lat.values())):,} requests):"
            )
            for kind, values in lat.items():
                p99 = _pct(values, 99)
                print(
                    f"  {kind:>6}: p50 {_pct(values, 50):6.1f} ms   p99 {p99:6.1f} ms   "
                    f"(target p99 < {P99_TARGET_MS:.0f} ms: ratio {p99 / P99_TARGET_MS:.2f})"
                )
            both = lat["360"] + lat["scores"]
            print(f"     all: p50 {statistics.median(both):6.1f} ms   p99 {_pct(both, 99):6.1f} ms")

            _print_cpu("this code", base, server.pid, key, jobs)
            lat_mix, shed, failed, cost, trace = _measured_mix(
                base, server.pid, key, jobs, args.rate, folder / f"trace-{port}.json"
            )
            print(
                f"mixed reads, this code, {args.rate:g} req/s for {args.mix_seconds:g} s "
                f"({AT_RISK_SHARE:.0%} at-risk pages, the rest customer 360):"
            )
            _print_mix("this code", lat_mix, shed, failed, cost)
            trace()

            acked, wall, failures = _ingest(
                base, key, ids, args.batches, args.batch_size, args.retry_share
            )
            rate = len(acked) / wall
            print(
                f"ingest: {CLIENTS} clients x {args.batches} batches x {args.batch_size} events "
                f"({args.retry_share:.0%} of batches retried): {len(acked):,} acknowledged in "
                f"{wall:.1f} s = {rate:,.0f} events/s (target >= {INGEST_TARGET:,.0f}: ratio "
                f"{rate / INGEST_TARGET:.2f}); failed requests: {failures}"
            )
        finally:
            server.terminate()
            server.wait(timeout=60)

        import retain.warehouse as wh

        con = wh.connect(f"duckdb:///{folder / 'warehouse.duckdb'}")
        events = wh.read_table(con, "events")
        bench = events.filter(events.event_id.startswith("bench-"))
        stored = bench.event_id.to_pandas()
        con.disconnect()
        dupes = int(stored.duplicated().sum())
        exact = set(stored) == acked and dupes == 0
        print(
            f"exactly once: {len(stored):,} stored rows, {stored.nunique():,} distinct ids, "
            f"{dupes} duplicates, acknowledged == stored: {set(stored) == acked} -> "
            f"{'OK' if exact else 'FAILED'}"
        )
        if not exact:
            sys.exit(1)


if __name__ == "__main__":
    main()
