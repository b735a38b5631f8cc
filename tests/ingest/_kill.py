"""Run a script in a child process and kill -9 it once it has written a marker file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def kill_when_marked(script: str, args: list[str], marker: Path, stage: str) -> None:
    """Run ``python -c script *args`` and SIGKILL it when ``marker`` appears (within 90 s).

    ``stage`` names where the script writes the marker, for the failure messages. The child
    keeps any PYTHONPATH (an overlay of another DuckDB), so it runs the same DuckDB.
    """
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": path}
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert proc.poll() is None, "the load ended before the kill"
            assert time.monotonic() < deadline, f"the load never reached the {stage}"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
