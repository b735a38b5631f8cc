"""Server-side trace for ``benchmarks/service.py``: what the slow requests of the mix waited for.

The benchmark's server process records, on the monotonic clock the client's event loop also
uses: each garbage collection (start, wall and CPU time, generation), each at-risk page the list
computed (a page not served from memory) and each joined frame it built, and every stall of
its event loop past :data:`STALL_S` (a 10 ms timer that fired late: the loop could not run,
for the GIL or the CPU). ``kill -USR2`` writes the record to a JSON file. The client then
attributes each slow request of the mix to what happened on the server while it waited.

Nothing here changes the service: the hooks wrap library functions from outside, only in the
benchmark's server, and cost microseconds per event. Older revisions (``--baseline-rev``) are
traced as far as their code has the wrapped functions.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import time
from pathlib import Path
from typing import Any

__all__ = ["STALL_S", "install", "lag_monitor", "print_summary", "read"]

STALL_S = 0.02
"""An event-loop timer this much late counts as a stall."""
SLOW_MS = 100.0
"""A request slower than this is attributed (the mix's p99 target)."""


def install(out: Path) -> dict[str, list[Any]]:
    """Start recording in this (server) process; ``kill -USR2`` writes the record to ``out``."""
    log: dict[str, list[Any]] = {"gc": [], "pages": [], "frames": [], "stalls": []}
    clock = time.monotonic
    started: list[float] = [0.0, 0.0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [clock(), time.thread_time()]
        else:
            wall, cpu = clock() - started[0], time.thread_time() - started[1]
            log["gc"].append((started[0], wall, cpu, info["generation"]))

    gc.callbacks.append(collected)
    at_risk_module = _module("retain.targeting.at_risk")  # (the package's at_risk is a function)
    ordered = getattr(at_risk_module, "ordered", None)
    if ordered is not None:

        def counted(*args: Any, **kwargs: Any) -> Any:  # called once per page computed
            log["pages"].append((clock(),))
            return ordered(*args, **kwargs)

        at_risk_module.ordered = counted
    frames_module = _module("retain.targeting._frames")
    joined = getattr(frames_module, "JoinedFrames", None)
    if joined is not None:
        get = joined.get

        def timed_get(self: Any, key: Any, build: Any) -> Any:
            def timed_build() -> Any:
                t, cpu = clock(), time.thread_time()
                built = build()
                log["frames"].append((t, clock() - t, time.thread_time() - cpu))
                return built

            return get(self, key, timed_build)

        joined.get = timed_get

    def dump(*_: Any) -> None:
        out.write_text(json.dumps(log))

    signal.signal(signal.SIGUSR2, dump)
    return log


def _module(name: str) -> Any:
    """The module ``name``, or None in a revision without it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


async def lag_monitor(log: dict[str, list[Any]]) -> None:
    """Record each event-loop stall past :data:`STALL_S` (run as a task on the server's loop)."""
    tick = 0.01
    while True:
        t = time.monotonic()
        await asyncio.sleep(tick)
        late = time.monotonic() - t - tick
        if late > STALL_S:
            log["stalls"].append((t, late))


def read(path: Path, pid: int, wait_s: float = 10.0) -> dict[str, list[Any]] | None:
    """Ask the server ``pid`` for its record (``kill -USR2``) and read it from ``path``."""
    import os

    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    stop = time.monotonic() + wait_s
    while time.monotonic() < stop:
        try:
            found: dict[str, list[Any]] = json.loads(path.read_text())
            return found
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    return None


def print_summary(
    trace: dict[str, list[Any]] | None, window: tuple[float, float], slow: list[tuple[float, float]]
) -> None:
    """Print what happened on the server during ``window`` and what the ``slow`` requests met.

    ``slow`` holds (when each slow request was due, its latency in s). A slow request is
    attributed to the first of: a full collection, a page or frame computed, an event-loop
    stall, that overlapped its wait; otherwise to none of them.
    """
    if trace is None:
        print("    server trace: not received")
        return
    start, end = window

    def within(rows: list[Any]) -> list[Any]:
        return [r for r in rows if start <= r[0] <= end]

    collections = within(trace["gc"])
    full = [r for r in collections if r[3] == 2]
    young = [r for r in collections if r[3] < 2]
    pages, frames, stalls = within(trace["pages"]), within(trace["frames"]), within(trace["stalls"])
    longest = max((r[1] for r in full), default=0.0) * 1000
    print(
        f"    server trace: {len(full)} full collections (longest {longest:.0f} ms, CPU "
        f"{sum(r[2] for r in full) * 1000:.0f} ms in all), {len(young)} young ones (CPU "
        f"{sum(r[2] for r in young) * 1000:.0f} ms); {len(pages)} at-risk pages computed, "
        f"{len(frames)} frames built ({', '.join(f'{r[2] * 1000:.0f}' for r in frames) or '-'}"
        f" ms CPU); {len(stalls)} event-loop stalls > {STALL_S * 1000:.0f} ms (longest "
        f"{max((r[1] for r in stalls), default=0.0) * 1000:.0f} ms)"
    )
    causes = {"full collection": 0, "page or frame computed": 0, "loop stall": 0, "none": 0}
    spans = {
        "full collection": [(r[0], r[0] + r[1]) for r in full],
        # a page's computation takes tens of ms, a frame's hundreds: count the next 0.5 s
        "page or frame computed": [(r[0], r[0] + 0.5) for r in pages + frames],
        "loop stall": [(r[0], r[0] + r[1]) for r in stalls],
    }
    for due, latency in slow:
        for cause, rows in spans.items():
            if any(a <= due + latency and b >= due for a, b in rows):
                causes[cause] += 1
                break
        else:
            causes["none"] += 1
    print(
        f"    slow requests (> {SLOW_MS:.0f} ms): {len(slow)}; their wait overlapped "
        + ", ".join(f"{cause}: {n}" for cause, n in causes.items())
    )
