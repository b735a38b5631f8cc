"""Who holds an in-progress idempotency key, and whether that holder is gone.

A request that takes an ``Idempotency-Key`` writes its *owner* (host, boot id, process id and
the process's start time) and a lease expiry beside the key. When the process is killed (kill
-9, OOM, power loss) the key is left "in progress"; a retry then checks the owner:

- the same host and boot, and the process is no longer there (or its id now names a process
  started later): the owner is gone, and the retry takes the key over at once;
- another boot of this host: gone as well;
- another host (several servers sharing a PostgreSQL app database), or an owner that cannot
  be read: only the lease tells, and the retry takes the key over once the lease has expired.

A holder that is still running keeps its key, so a retry during the first request still gets
409. Taking over a key whose request did finish its warehouse write is harmless: records are
keyed by their id, so the second load counts them as unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from functools import cache
from pathlib import Path

__all__ = ["LEASE", "current_owner", "owner_is_gone"]

LEASE = dt.timedelta(minutes=10)
"""How long a key stays with an owner whose liveness cannot be checked (another host)."""


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot.

    '' where /proc cannot tell, None when there is no such process.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else ""
    except OSError:
        return ""
    # Field 22 (starttime); the command name (field 2) may hold spaces, so split after it.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@cache
def current_owner() -> str:
    """The running process, as ``host/boot id/pid/start ticks`` (at most 200 characters)."""
    pid = os.getpid()
    host = socket.gethostname().replace("/", "_")[:100]
    return f"{host}/{_boot_id()}/{pid}/{_start_ticks(pid) or ''}"


def _alive(pid: int, start: str) -> bool:
    ticks = _start_ticks(pid)
    if ticks is None:
        return False
    if ticks and start:
        return ticks == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def owner_is_gone(
    owner: str | None, lease_expires_at: dt.datetime | None, now: dt.datetime
) -> bool:
    """True when the process holding a key has certainly stopped, or its lease has expired."""
    if lease_expires_at is not None and lease_expires_at <= now:
        return True
    if not owner or owner.count("/") < 3:
        return lease_expires_at is None
    host, boot, pid_text, start = owner.rsplit("/", 3)
    me_host, me_boot, _, _ = current_owner().rsplit("/", 3)
    if host != me_host or not pid_text.isdigit():
        return False
    if boot and me_boot and boot != me_boot:
        return True
    return not _alive(int(pid_text), start)
