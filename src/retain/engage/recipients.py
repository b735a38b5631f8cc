"""How the outbox stores a recipient, so a lookup by address or number compares exact forms.

Every writer of ``engage_outbox`` (:func:`retain.engage.outbox.enqueue`, a playbook run's
batch insert) stores the recipient through :func:`stored_recipient`; the suppression list and
SMS replies then find a recipient's messages with ``lower(recipient) IN (forms)``, which the
outbox's recipient index answers (:mod:`retain.engage.suppression`).
"""

from __future__ import annotations

from retain.engage.phone import phone_key

__all__ = ["stored_recipient"]


def stored_recipient(channel: str, recipient: str, region: str | None = None) -> str:
    """``recipient`` as the outbox keeps it on ``channel``.

    An SMS number in E.164 where it reads as one (a national number read in ``region``, the
    customer's country), else its digits without separators
    (:func:`retain.engage.phone.phone_key`); an e-mail address (its case kept: it is what the
    message is addressed to) or a URL without surrounding spaces.
    """
    if channel == "sms":
        return phone_key(recipient, region) or recipient.strip()
    return recipient.strip()
