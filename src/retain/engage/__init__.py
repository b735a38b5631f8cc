"""Acting on retention moments: the crash-safe outbox and its delivery (e-mail, webhooks).

Deciding to send writes an outbox row in the decision's own transaction
(:func:`retain.engage.outbox.enqueue`); ``retain worker`` claims due rows, delivers them over
SMTP or signed webhooks, and records every attempt (:mod:`retain.engage.worker`). See
``docs/engage.md``.
"""
