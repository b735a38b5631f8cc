"""Guardrails on how often and when a customer is messaged: frequency caps and quiet hours.

**Frequency caps** (:func:`capped`) limit a customer's messages per window (``caps.window_days``):
every category together (``global_limit``) and per category (``categories``, e.g. at most 2
``marketing`` messages a week). Messages already queued or sent in the window count first. The
remaining slots go to the run's candidates by **priority**, then expected value, then playbook
name: when two playbooks compete for a customer's last slot the higher-priority one wins, in
whatever order the playbooks were evaluated, and even across runs: a queued message that has not
left yet competes again (:func:`allocate`) and is withdrawn when it loses. A candidate refused
by its category's cap does not use a global slot.

**Quiet hours** (:func:`quiet_until`) are local: a message decided at 23:00 in the customer's
time zone waits until the morning's ``end`` hour; it is delayed, never dropped. Customers
without a (valid) time zone are treated as UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from retain.engage.playbooks import Caps, QuietHours

__all__ = ["allocate", "capped", "quiet_until"]


def _counts(history: pd.DataFrame, keys: list[str]) -> pd.Series:
    if history.empty:
        return pd.Series(dtype="int64")
    return history.groupby(keys).size()


def capped(candidates: pd.DataFrame, history: pd.DataFrame, caps: Caps) -> np.ndarray:
    """Whether each candidate is refused by a cap (aligned with ``candidates``' rows).

    ``candidates`` has ``customer_id, category, priority, expected_value, playbook``;
    ``history`` has ``customer_id, category``, one row per message already queued or sent in
    the window; see :func:`allocate` for history rows that may still give up their slot.
    """
    return allocate(candidates, history, caps)[0]


def allocate(
    candidates: pd.DataFrame, history: pd.DataFrame, caps: Caps
) -> tuple[np.ndarray, list[str]]:
    """Slots for ``candidates`` and for queued messages that have not left yet.

    History rows with ``preemptible`` true (queued, never tried; they carry ``key``,
    ``priority``, ``expected_value`` and ``playbook``) compete with the candidates for the
    customer's slots instead of holding one: a higher-priority playbook run later takes the
    slot of a lower-priority message still waiting (e.g. for quiet hours to end), whatever ran
    first. Returns whether each candidate is refused, and the keys of the queued messages that
    lost their slot (to withdraw). On a tie the message queued first keeps its slot.
    """
    flags = history.get("preemptible", pd.Series(False, index=history.index))
    movable = history[flags.astype("boolean").fillna(False).to_numpy(dtype=bool)]
    fixed = history.drop(movable.index)
    columns = ["customer_id", "category", "priority", "expected_value", "playbook"]
    parts = [candidates[columns].assign(_new=True, _key="")]
    if len(movable):
        moved = movable.reindex(columns=[*columns, "key"]).rename(columns={"key": "_key"})
        parts.append(moved.assign(_new=False))
    pool = (
        pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    )
    refused = _refused(pool, fixed, caps)
    n = len(candidates)
    lost = pool["_key"][n:][refused[n:]]
    return refused[:n], [str(k) for k in lost]


def _refused(pool: pd.DataFrame, history: pd.DataFrame, caps: Caps) -> np.ndarray:
    """Whether each row of ``pool`` is refused, the slots given by priority (module doc)."""
    if len(pool) == 0:
        return np.zeros(0, dtype=bool)
    pool = pool.assign(
        priority=pd.to_numeric(pool["priority"]).fillna(0),
        expected_value=pd.to_numeric(pool["expected_value"]).fillna(0.0),
    )
    order = pool.sort_values(
        ["priority", "expected_value", "_new", "playbook", "customer_id"],
        ascending=[False, False, True, True, True],
        kind="stable",
    )
    refused = pd.Series(False, index=order.index)
    limits = order["category"].map(caps.categories)
    limited = limits.notna()
    if limited.any():
        sub = order[limited]
        before = _counts(history, ["customer_id", "category"])
        keys = pd.MultiIndex.from_frame(sub[["customer_id", "category"]])
        used = before.reindex(keys).fillna(0).to_numpy()
        rank = sub.groupby(["customer_id", "category"], sort=False).cumcount().to_numpy()
        refused[sub.index] = (used + rank) >= limits[limited].to_numpy()
    if caps.global_limit is not None:
        sub = order[~refused]
        before = _counts(history, ["customer_id"])
        used = before.reindex(sub["customer_id"]).fillna(0).to_numpy()
        rank = sub.groupby("customer_id", sort=False).cumcount().to_numpy()
        refused[sub.index] = (used + rank) >= caps.global_limit
    return refused.reindex(pool.index).to_numpy()


def _zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name)) if isinstance(name, str) and name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _in_quiet(hour: int, quiet: QuietHours) -> bool:
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= hour < quiet.end
    return hour >= quiet.start or hour < quiet.end


def quiet_until(time_zones: pd.Series, now: dt.datetime, quiet: QuietHours | None) -> pd.Series:
    """Per customer, the naive-UTC moment a message may leave, or NaT when it may leave now.

    ``now`` is naive UTC (the run's moment). Each distinct zone is computed once.
    """
    out = pd.Series(pd.NaT, index=time_zones.index, dtype="datetime64[ns]")
    if quiet is None or time_zones.empty:
        return out
    moment = now.replace(tzinfo=dt.UTC)
    for name, idx in time_zones.groupby(time_zones.fillna(""), sort=False).groups.items():
        local = moment.astimezone(_zone(name))
        if not _in_quiet(local.hour, quiet):
            continue
        wake = local.replace(hour=quiet.end, minute=0, second=0, microsecond=0)
        if wake <= local:
            wake += dt.timedelta(days=1)
        out[idx] = pd.Timestamp(wake.astimezone(dt.UTC).replace(tzinfo=None))
    return out
