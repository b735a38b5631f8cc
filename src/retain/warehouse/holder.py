"""Who holds a DuckDB warehouse file: the holder record beside it, and the error that names them.

An embedded DuckDB file admits one writing process or many reading ones. ``retain serve`` opens
it read-only (writing only for the moment of an API ingest) and leaves a holder file beside it
(``<file>.holder.json``: pid, command, since, the process's start time and host). A record
counts while that pid runs with that start time, so a crashed server's record does not count
once another process gets its pid. A write refused because of the holder (or of another
process's lock) raises :class:`WarehouseBusyError` naming that process instead of DuckDB's
lock error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any

from retain.errors import ConflictError
from retain.i18n import t

__all__ = ["HOLDER_SUFFIX", "WarehouseBusyError", "busy_error", "hold", "holder_of", "release"]

HOLDER_SUFFIX = ".holder.json"


class WarehouseBusyError(ConflictError):
    """Another process holds the warehouse file, so this one may not write it (or open it)."""

    default_code = "warehouse.busy"
    retry_after = 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _started(pid: int) -> str | None:
    """When process ``pid`` started, as the OS tells it; None where it cannot be read.

    Linux: field 22 of ``/proc/PID/stat`` (clock ticks since boot), else psutil's create time
    when it is installed. With the pid it tells a live holder from a process that got its pid
    after the holder crashed (PID 1 in every container).
    """
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        return stat[stat.rindex(")") + 2 :].split()[19]  # fields from 3 on, after "(comm)"
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    try:
        return str(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _is_live(found: dict[str, Any]) -> bool:
    """Whether the holder record ``found`` names a process running now.

    A record from another host cannot be checked here and counts as live (the hint names the
    file to delete); on this host the pid must run and, where recorded, have the same start time.
    """
    pid = int(found["pid"])
    if found.get("host", socket.gethostname()) != socket.gethostname():
        return True
    if pid == os.getpid() or not _alive(pid):
        return False
    recorded, now = found.get("started"), _started(pid)
    return recorded is None or now is None or str(recorded) == now


def holder_of(path: str) -> dict[str, Any] | None:
    """The live process holding the DuckDB file ``path`` (pid, command, since), if any."""
    try:
        found = json.loads(Path(path + HOLDER_SUFFIX).read_text(encoding="utf-8"))
        return found if _is_live(found) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def hold(path: str, command: str | None = None) -> None:
    """Record that this process holds ``path`` (a server does, for as long as it runs)."""
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    pid = os.getpid()
    row = {
        "pid": pid,
        "command": command or " ".join(sys.argv),
        "since": since,
        "started": _started(pid),
        "host": socket.gethostname(),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}{HOLDER_SUFFIX}.{pid}")
    tmp.write_text(json.dumps(row), encoding="utf-8")
    tmp.replace(path + HOLDER_SUFFIX)


def release(path: str) -> None:
    """Remove this process's holder record of ``path`` (another process's is left alone)."""
    file = Path(path + HOLDER_SUFFIX)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if int(json.loads(file.read_text(encoding="utf-8"))["pid"]) == os.getpid():
            file.unlink()


def busy_error(path: str, detail: str = "", *, reader: bool = False) -> WarehouseBusyError:
    """The error naming who holds ``path``: the holder record, else the pid DuckDB reports.

    ``reader``: the other process has the file open read-only (a command reading it), so the
    message says it reads rather than writes.
    """
    found = holder_of(path)
    if found is not None:
        return WarehouseBusyError(
            t(
                "cli.warehouse_held",
                path=path,
                pid=found["pid"],
                command=found.get("command", "?"),
                since=found.get("since", "?"),
            ),
            hint=t("cli.warehouse_held_file_hint", pid=found["pid"], holder=path + HOLDER_SUFFIX),
        )
    pid = re.search(r"\(PID (\d+)\)", detail)
    key = "cli.warehouse_read_busy" if reader else "cli.warehouse_busy"
    return WarehouseBusyError(
        t(key, path=path, pid=pid.group(1) if pid else "?"), hint=t(f"{key}_hint")
    )
