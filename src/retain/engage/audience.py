"""Audience sync: a segment's or a plan's members posted to a webhook, in signed parts.

So a team can act in the tools it already has (a CRM, an ad platform's custom audience, a
call-centre queue). Each part is one outbox webhook message with its own idempotency key
(``<run key>:<part>``), so a re-run of the same sync queues nothing new and a receiver that
honours the key applies each part once. The body's ``data`` is::

    {"audience": "at-risk-vip", "run": "<run key>", "part": 1, "parts": 3,
     "total": 2412, "members": [{"customer_id": "C1", ...}, ...]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from retain.engage._tables import OutboxMessage
from retain.engage.outbox import enqueue

__all__ = ["AUDIENCE_CUSTOMER", "queue_audience_sync"]

#: The outbox's customer for audience parts: they concern many customers, so none is logged to
#: ``interactions`` (each member's own messages are).
AUDIENCE_CUSTOMER = ""


def queue_audience_sync(
    session: Session,
    *,
    url: str,
    audience: str,
    members: Sequence[Mapping[str, Any]],
    run_key: str,
    chunk_size: int = 1000,
    playbook: str | None = None,
) -> list[OutboxMessage]:
    """Queue ``members`` (dicts with ``customer_id``) for ``url``, ``chunk_size`` per part.

    Writes in the caller's transaction, like :func:`retain.engage.outbox.enqueue`; an empty
    audience still sends one part (``total`` 0), so the receiver learns the audience emptied.
    """
    parts = max(1, math.ceil(len(members) / chunk_size))
    queued = []
    for part in range(parts):
        chunk = [dict(m) for m in members[part * chunk_size : (part + 1) * chunk_size]]
        queued.append(
            enqueue(
                session,
                customer_id=AUDIENCE_CUSTOMER,
                channel="webhook",
                recipient=url,
                payload={
                    "audience": audience,
                    "run": run_key,
                    "part": part + 1,
                    "parts": parts,
                    "total": len(members),
                    "members": chunk,
                },
                idempotency_key=f"{run_key}:{part + 1}",
                advertising=False,
                playbook=playbook,
                campaign_id=f"audience:{audience}",
            )
        )
    return queued
