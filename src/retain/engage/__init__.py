"""Acting on retention moments: the crash-safe outbox and its delivery (e-mail, webhooks).

Deciding to send writes an outbox row in the decision's own transaction (:func:`enqueue`, see
:mod:`retain.engage.outbox` for its signature); ``retain worker`` claims due rows, delivers them
over SMTP or signed webhooks and records every attempt (:class:`Worker`); addresses that
unsubscribed, bounced or complained are never mailed again (:func:`suppress`). See
``docs/engage.md``. The playbooks (:mod:`retain.engage.playbooks`) are imported from their
modules. Names here are imported on first use, so importing a submodule stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retain.lazy import lazy_package

if TYPE_CHECKING:
    from retain.engage.audience import queue_audience_sync
    from retain.engage.outbox import counts, enqueue, requeue
    from retain.engage.suppression import is_suppressed, suppress
    from retain.engage.worker import DeliveryReport, Worker

__all__ = [
    "DeliveryReport",
    "Worker",
    "counts",
    "enqueue",
    "is_suppressed",
    "queue_audience_sync",
    "requeue",
    "suppress",
]

_HOMES = {
    "DeliveryReport": "retain.engage.worker",
    "Worker": "retain.engage.worker",
    "counts": "retain.engage.outbox",
    "enqueue": "retain.engage.outbox",
    "is_suppressed": "retain.engage.suppression",
    "queue_audience_sync": "retain.engage.audience",
    "requeue": "retain.engage.outbox",
    "suppress": "retain.engage.suppression",
}

lazy_package(__name__, _HOMES)
