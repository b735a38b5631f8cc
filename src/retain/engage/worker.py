"""``retain worker``'s engine: claim due outbox rows, deliver them, record every attempt.

One :class:`Worker` serves one process. It claims a batch (:func:`retain.engage.outbox.claim`),
delivers each message and marks it with its own commit right after the channel answered, so a
``kill -9`` loses nothing and re-sends at most the one message in flight. Before each send it
renews its lease once a tenth of it has passed and drops rows another worker has taken over, so
a send shorter than nine tenths of the lease is never taken over by a second worker. Attempts
are appended to the warehouse's ``interactions`` table (``message_sent`` / ``message_failed``,
keyed by message and attempt row, so re-appending after a crash changes nothing) and flagged
``logged`` only after the append. A message whose address or number is on the suppression list
by the time it is sent is ``cancelled`` (reason ``suppressed``), not failed: it was withdrawn.
An e-mail or SMS queued longer than ``engage.consent_recheck_minutes`` has its customer's
consent read again from the warehouse (:func:`retain.engage.channels.consent_now`, one query a
batch) before it is sent: withdrawn consent or a changed address cancels it
(``consent_revoked``), a customer no longer in ``customers`` too (``customer_left``), and a
warehouse that cannot be read now makes it wait and retry, never go out unchecked.
Channels: e-mail (:mod:`retain.engage.email`), webhooks (:mod:`retain.engage.webhooks`) and SMS
through an HTTP gateway (:mod:`retain.engage.sms`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from retain.appdb import utcnow
from retain.config import Settings
from retain.engage import outbox, suppression
from retain.engage._tables import DeliveryAttempt, OutboxMessage
from retain.engage.channels import Consent, consent_now
from retain.engage.email import SmtpSender, compose, valid_address
from retain.engage.netguard import Resolver
from retain.engage.phone import PhoneNumberError, e164, phone_key, variants
from retain.engage.sms import OptOutMissingError, compose_text, measure, normal_number, send_sms
from retain.engage.webhooks import backoff_seconds, post_json
from retain.i18n import t
from retain.ingest.append import Interaction
from retain.ingest.append import append_interactions as append_to_warehouse
from retain.warehouse import connect, duckdb_path

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["DeliveryReport", "Worker", "append_interactions"]

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one drain did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    logged: int = 0
    channels: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        """Sum ``other`` into this report."""
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.dead += other.dead
        self.cancelled += other.cancelled
        self.logged += other.logged


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    retryable: bool
    detail: str
    suppress: bool = False
    cancel: str | None = None  # withdrawn before sending, for this reason (not a failure)
    segments: int | None = None


_KINDS = {"sent": "message_sent", "cancelled": "message_cancelled", "replied": "message_replied"}
"""The ``interactions`` kind of an attempt's outcome (the rest: ``message_failed``); ``replied``
rows are SMS replies (:mod:`retain.engage.sms_inbound`)."""


def append_interactions(session: Session, settings: Settings, *, limit: int = 5000) -> int:
    """Append attempts not yet logged to the warehouse's ``interactions``; return how many."""
    pending = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.logged.is_(False))
        .order_by(DeliveryAttempt.id)
        .limit(limit)
    ).all()
    if not pending:
        return 0
    rows = [r for r in pending if r.customer_id]  # audience parts concern no one customer
    # the decision's key rides along, so the re-entry rule outlives the outbox's rows
    found = session.execute(
        select(
            OutboxMessage.message_id, OutboxMessage.idempotency_key, OutboxMessage.recipient
        ).where(OutboxMessage.message_id.in_(sorted({r.message_id for r in rows})))
    ).all()
    keys = {m: k for m, k, _ in found}
    recipients = {m: recipient for m, _, recipient in found}
    append_to_warehouse(
        (
            Interaction(
                # The attempt row's own id, not the attempt number: requeue() restarts that
                # count, and a repeated key with a new outcome would be dropped as a conflict.
                interaction_id=f"msg-{r.message_id}-{r.attempt}-{r.id}",
                customer_id=r.customer_id,
                occurred_at=r.occurred_at,
                kind=_KINDS.get(r.outcome, "message_failed"),
                channel=r.channel,
                campaign_id=r.campaign_id,
                properties={
                    "message_id": r.message_id,
                    "attempt": r.attempt,
                    "outcome": r.outcome,
                    "detail": _without_contact(r.detail, r.channel, recipients.get(r.message_id)),
                }
                | ({"key": keys[r.message_id]} if r.message_id in keys else {}),
            )
            for r in rows
        ),
        settings=settings,
    )
    session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.id.in_([r.id for r in pending]))
        .values(logged=True)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return len(pending)


HIDDEN: Final = "[…]"
"""What stands in an attempt's detail in ``interactions`` for the recipient it quoted."""


def _without_contact(detail: str | None, channel: str, recipient: str | None) -> str | None:
    """``detail`` without the recipient it may quote, for ``interactions``.

    The customer 360 shows interactions' properties to roles without ``customers.pii``, and a
    refusal often quotes the address or number (an SMTP ``550 <address>``, a number the worker
    cannot read); the app database keeps the detail whole for the outbox page, which hides it
    by role. A number is hidden in each form it may be written in.
    """
    if not detail or not recipient or channel == "webhook":
        return detail
    hidden = {recipient.strip()}
    if channel == "sms":
        key = phone_key(recipient)
        hidden |= variants(key) if key else set()
    # a few characters (a garbage recipient such as "12") would blank unrelated text
    for text in sorted((h for h in hidden if len(h) >= 6), key=len, reverse=True):
        detail = re.sub(re.escape(text), HIDDEN, detail, flags=re.IGNORECASE)
    return detail


def _withdrawn(message: OutboxMessage, consent: Consent | None) -> str | None:
    """Why ``message`` may no longer go to its recipient, or None when it may."""
    if consent is None:
        return "customer_left"
    if message.channel == "email":
        ok, current = consent.email_ok, (consent.email or "").strip().lower()
        same = current == message.recipient.strip().lower()
    else:
        # the number in the warehouse may be national, the row's E.164 (or the reverse; a row
        # from before numbers were normalised may hold national digits of an unknown country)
        ok = consent.sms_ok
        now = phone_key(consent.phone or "", consent.country) or ""
        stored = phone_key(message.recipient, consent.country) or ""
        same = bool(now and stored) and not variants(now).isdisjoint(variants(stored))
    return None if ok and same else "consent_revoked"


class Worker:
    """Delivers the outbox of one app database with one SMTP connection.

    Parameters
    ----------
    settings
        SMTP, sender, webhook secret, retries, lease.
    sessions
        A sessionmaker on the app database.
    resolver
        Host name lookup for the webhook guard (tests pass a stub).
    log_interactions
        Append attempts to the warehouse's ``interactions`` after each drain.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        resolver: Resolver | None = None,
        log_interactions: bool = True,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.resolver = resolver
        self.log_interactions = log_interactions
        self.rng = rng or random.Random()  # noqa: S311  (jitter, not security)
        self.clock = clock
        self.smtp = SmtpSender(settings)
        self._key: bytes | None = None
        self._suppressed: set[str] = set()
        self._rechecked: dict[int, _Outcome] = {}
        self._warehouse: BaseBackend | None = None

    def channels(self) -> list[str]:
        """The channels this configuration can deliver (e-mail needs a server and a sender)."""
        found = []
        if self.settings.smtp_host and self.settings.engage.sender:
            found.append("email")
        if self.settings.engage.webhook_secret:
            found.append("webhook")
        if self.settings.sms.gateway_url:
            found.append("sms")
        return found

    def undeliverable(self, session: Session) -> dict[str, int]:
        """Queued messages per channel this configuration cannot deliver (SMS without a gateway).

        They wait untouched: :meth:`drain` claims only :meth:`channels`, so no pass tries them,
        counts an attempt or moves them toward the dead letters; ``retain worker`` names them.
        """
        rows = session.execute(
            select(OutboxMessage.channel, func.count())
            .where(OutboxMessage.state == "queued", OutboxMessage.channel.not_in(self.channels()))
            .group_by(OutboxMessage.channel)
        ).all()
        return {str(channel): int(n) for channel, n in rows}

    def drain(self, *, stop: threading.Event | None = None) -> DeliveryReport:
        """Deliver every due message until none is left (or ``stop`` is set)."""
        report = DeliveryReport(channels=self.channels())
        engage = self.settings.engage
        try:
            while not (stop and stop.is_set()):
                with self.sessions() as session:
                    claim = outbox.claim(
                        session,
                        limit=engage.batch_size,
                        lease_seconds=engage.lease_seconds,
                        channels=report.channels,
                    )
                    if not claim.messages:
                        break
                    self._deliver_batch(session, claim, report, stop)
        finally:
            self.smtp.close()
            self._close_warehouse()
        if self.log_interactions:
            report.logged += self.flush_interactions()
        return report

    def run(
        self, stop: threading.Event, *, each_round: Callable[[], object] | None = None
    ) -> DeliveryReport:
        """Drain, then wait ``engage.poll_seconds``, until ``stop`` is set.

        ``each_round`` runs before each drain (``retain worker`` runs the due scheduled jobs).
        """
        total = DeliveryReport(channels=self.channels())
        while not stop.is_set():
            if each_round is not None:
                each_round()
            total.add(self.drain(stop=stop))
            stop.wait(self.settings.engage.poll_seconds)
        return total

    def flush_interactions(self) -> int:
        """Append logged-pending attempts to ``interactions``; a busy warehouse waits a round."""
        done = 0
        try:
            with self.sessions() as session:
                while n := append_interactions(session, self.settings):
                    done += n
        except Exception:  # the warehouse may be busy or down: the rows stay pending
            log.warning("could not append deliveries to interactions", exc_info=True)
        return done

    def _deliver_batch(
        self,
        session: Session,
        claim: outbox.Claim,
        report: DeliveryReport,
        stop: threading.Event | None,
    ) -> None:
        lease = self.settings.engage.lease_seconds
        renewed = self.clock()
        held = {m.id for m in claim.messages}
        self._suppressed = suppression.suppressed_among(
            session,
            [self._address(m) for m in claim.messages if m.channel in ("email", "sms")],
        )
        self._rechecked = self._recheck_consent(claim.messages)
        for message in claim.messages:
            if stop and stop.is_set():
                break  # the rest waits for its lease to pass; none was sent
            # Renew early (a tenth of the lease), so every send starts with nine tenths of a
            # lease ahead of it: at "half", a slow server let another worker take the row over
            # mid-send and send it again.
            if self.clock() - renewed > lease / 10:
                held = outbox.renew(session, claim.token, lease_seconds=lease)
                renewed = self.clock()
            if message.id not in held:
                continue
            self._deliver(session, message, claim.token, report)

    def _deliver(
        self, session: Session, message: OutboxMessage, token: str, report: DeliveryReport
    ) -> None:
        try:
            if message.id in self._rechecked:
                result = self._rechecked[message.id]
            elif message.channel == "email":
                result = self._email(session, message)
            elif message.channel == "sms":
                result = self._sms(message)
            else:
                result = self._webhook(message)
        except Exception as exc:  # a bug or a bad row must not kill the worker on every claim
            log.exception("delivering %s failed", message.message_id)
            result = _Outcome(False, True, f"{type(exc).__name__}: {exc}")
        engage = self.settings.engage
        if result.ok:
            detail = result.detail if result.segments is not None else None
            if outbox.mark_sent(session, message, token, detail=detail, segments=result.segments):
                report.sent += 1
            return
        if result.cancel is not None:
            if outbox.mark_cancelled(
                session, message, token, reason=result.cancel, detail=result.detail
            ):
                report.cancelled += 1
            return
        if result.suppress:
            self._suppressed.add(message.recipient.strip().lower())
            suppression.suppress(
                session,
                message.recipient,
                "bounce",
                customer_id=message.customer_id,
                detail=result.detail,
            )
        if not result.retryable:
            outbox.mark_failed(session, message, token, error=result.detail)
            report.failed += 1
        elif message.attempts >= engage.max_attempts:
            outbox.mark_failed(session, message, token, error=result.detail, dead=True)
            report.dead += 1
        else:
            delay = backoff_seconds(
                message.attempts,
                base=engage.backoff_seconds,
                cap=engage.backoff_max_seconds,
                rng=self.rng,
            )
            at = utcnow() + dt.timedelta(seconds=delay)
            outbox.mark_retry(session, message, token, error=result.detail, at=at)
            report.retried += 1

    def _recheck_consent(self, messages: Sequence[OutboxMessage]) -> dict[int, _Outcome]:
        """Outcomes instead of a send for the waiting messages whose consent no longer holds."""
        cutoff = utcnow() - dt.timedelta(minutes=self.settings.engage.consent_recheck_minutes)
        old = [m for m in messages if m.channel in ("email", "sms") and m.created_at <= cutoff]
        if not old:
            return {}
        path = duckdb_path(self.settings.warehouse_url)
        if path is not None and not Path(path).exists():
            return {}  # no warehouse yet: no customers table, nothing to re-check
        try:
            if self._warehouse is None:
                self._warehouse = connect(settings=self.settings, read_only=True)
            found = consent_now(self._warehouse, [m.customer_id for m in old])
        except Exception as exc:  # busy, down, or a bad table: wait, never send unchecked
            log.warning("could not read consent from the warehouse", exc_info=True)
            self._close_warehouse()
            detail = t("engage_outbox.consent_unchecked", error=f"{type(exc).__name__}: {exc}")
            return {m.id: _Outcome(False, True, detail) for m in old}
        if found is None:  # no customers table: nothing decided from it, nothing to re-check
            return {}
        outcomes: dict[int, _Outcome] = {}
        for m in old:
            reason = _withdrawn(m, found.get(m.customer_id))
            if reason is not None:
                detail = t(f"engage_outbox.recheck_{reason}")
                outcomes[m.id] = _Outcome(False, False, detail, cancel=reason)
        return outcomes

    def _close_warehouse(self) -> None:
        if self._warehouse is not None:
            try:
                self._warehouse.disconnect()
            except Exception:  # closing a broken connection: nothing more to do
                log.debug("closing the warehouse failed", exc_info=True)
            self._warehouse = None

    def _signing_key(self, session: Session) -> bytes:
        if self._key is None:
            self._key = suppression.signing_key(session, self.settings.engage.signing_secret)
        return self._key

    @staticmethod
    def _address(message: OutboxMessage) -> str:
        """The suppression list's key of a recipient (:func:`suppression.normal_address`)."""
        return suppression.normal_address(message.recipient)

    @staticmethod
    def _number(message: OutboxMessage, payload: dict[str, Any]) -> str:
        """The number to send to, in E.164; :class:`PhoneNumberError` when it cannot be read.

        A row a playbook run queued carries the customer's country (``region``), which a
        number that could not be read at the decision is read in again, to say why it fails.
        A row written before numbers were normalised (no ``region``) goes as it was stored.
        """
        if "region" in payload:
            region = payload["region"]
            return e164(message.recipient, region if isinstance(region, str) else None)
        number = normal_number(message.recipient)
        if number is None:
            raise PhoneNumberError(t("engage_outbox.sms_bad_number"))
        return number

    def _email(self, session: Session, message: OutboxMessage) -> _Outcome:
        if self._address(message) in self._suppressed:
            return _Outcome(False, False, t("engage.suppressed"), cancel="suppressed")
        if not valid_address(message.recipient):
            return _Outcome(False, False, t("engage.bad_address"))
        token = suppression.make_token(
            self._signing_key(session), message.recipient, message.customer_id
        )
        url = f"{self.settings.engage.public_url.rstrip('/')}/unsubscribe/{token}"
        result = self.smtp.send(compose(self.settings, message, url))
        return _Outcome(result.ok, result.retryable, result.detail, result.suppress)

    def _webhook(self, message: OutboxMessage) -> _Outcome:
        engage = self.settings.engage
        body: dict[str, Any] = {
            "id": message.message_id,
            "idempotency_key": message.idempotency_key,
            "customer_id": message.customer_id,
            "playbook": message.playbook,
            "campaign_id": message.campaign_id,
            "created_at": message.created_at.isoformat() + "Z",
            "attempt": message.attempts,
            "data": json.loads(message.payload),
        }
        result = post_json(
            message.recipient,
            json.dumps(body, ensure_ascii=False, sort_keys=True).encode(),
            secret=engage.webhook_secret,
            idempotency_key=message.idempotency_key,
            timeout=engage.webhook_timeout_seconds,
            allow=engage.webhook_allow_private,
            resolver=self.resolver,
        )
        return _Outcome(result.ok, result.retryable, result.detail)

    def _sms(self, message: OutboxMessage) -> _Outcome:
        config = self.settings.sms
        if self._address(message) in self._suppressed:
            return _Outcome(False, False, t("engage.suppressed"), cancel="suppressed")
        payload = json.loads(message.payload)
        try:
            number = self._number(message, payload)
        except PhoneNumberError as exc:  # refused for good: the number is what must change
            return _Outcome(False, False, exc.message)
        try:
            text = compose_text(
                str(payload.get("body", "")),
                lang=message.language,
                advertising=message.advertising,
                sender_name=self.settings.engage.sender_name,
                optout_number=config.optout_number,
            )
        except OptOutMissingError as exc:  # a configuration to fix: the admin retries it then
            return _Outcome(False, False, str(exc))
        length = measure(text)
        if length.segments > config.max_segments:
            return _Outcome(
                False,
                False,
                t(
                    "engage_outbox.sms_too_long",
                    segments=length.segments,
                    limit=config.max_segments,
                ),
            )
        result = send_sms(
            config, number, text, idempotency_key=message.idempotency_key, resolver=self.resolver
        )
        detail = t(
            "engage_outbox.sms_sent_detail",
            detail=result.detail,
            encoding=length.encoding,
            units=length.units,
            segments=length.segments,
        )
        return _Outcome(result.ok, result.retryable, detail, segments=length.segments)
