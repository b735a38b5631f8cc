"""E-mail over SMTP: the message as the law and the mailbox providers want it, and its sending.

Every message carries a stable ``Message-ID`` (from the outbox's message id: a re-send after a
crash is recognisably the same message), ``List-Unsubscribe`` with a signed link and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), and a footer in the message's
language naming the sender, its postal address and contact, and how to opt out — what Japan's
Act on Specified Electronic Mail (特定電子メール法) asks of advertising mail. Korean advertising
mail starts its subject with "(광고)" (Information and Communications Network Act, Art. 50).
Refusals with a 5xx code are permanent; when one is about the recipient's mailbox (5.1.x, 5.2.x
or no status code at RCPT; 5.1.x after DATA) the worker lists the address as suppressed. A 5xx
about the message or the sender (policy, DMARC, size, a blocklisted host) suppresses no one.
"""

from __future__ import annotations

import contextlib
import email.policy
import json
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, getaddresses, parseaddr
from typing import Any

from retain.config import Settings
from retain.engage._tables import OutboxMessage
from retain.i18n import language, t

__all__ = [
    "KOREAN_AD_PREFIX",
    "SendResult",
    "SmtpSender",
    "compose",
    "subject_for",
    "valid_address",
]

KOREAN_AD_PREFIX = "(광고)"


def valid_address(address: str) -> bool:
    """One plain ``local@domain`` address: no display name, no line break (header injection)."""
    local, at, domain = address.strip().rpartition("@")
    return bool(at and local and "." in domain) and not any(c in address for c in "\r\n<>,;\t ")


def subject_for(subject: str, lang: str, advertising: bool) -> str:
    """The subject on one line, with "(광고)" first for Korean advertising mail (never twice)."""
    subject = " ".join(subject.split())
    if lang == "ko" and advertising and not subject.startswith(KOREAN_AD_PREFIX):
        return f"{KOREAN_AD_PREFIX} {subject}"
    return subject


def _domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1].strip("> ") or "retain.invalid"


def _footer(settings: Settings, lang: str, unsubscribe_url: str, advertising: bool) -> str:
    engage = settings.engage
    name = engage.sender_name or engage.sender
    with language(lang):
        lines = [t("engage.footer_sender", sender=name)]
        if engage.postal_address:
            lines.append(t("engage.footer_address", address=engage.postal_address))
        if engage.contact:
            lines.append(t("engage.footer_contact", contact=engage.contact))
        if advertising:
            lines.append(t("engage.footer_optout", url=unsubscribe_url))
        else:
            lines.append(t("engage.footer_manage", url=unsubscribe_url))
    return "\n".join(lines)


def _header(value: str) -> str:
    """``value``, RFC 2047-encoded when it is not ASCII (Japanese and Korean subjects)."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def compose(settings: Settings, message: OutboxMessage, unsubscribe_url: str) -> Message:
    """The MIME message for an e-mail outbox row (payload ``subject``, ``body``, ``html``).

    Built with the compat32 classes (``MIMEText``): the modern header registry parses every
    header it is given, which took most of a send's CPU on a busy worker.
    """
    payload: dict[str, Any] = json.loads(message.payload)
    engage = settings.engage
    footer = _footer(settings, message.language, unsubscribe_url, message.advertising)
    text = MIMEText(f"{payload.get('body', '')}\n\n-- \n{footer}\n", "plain", "utf-8")
    mail: Message = text
    if payload.get("html"):
        footer_html = "<br>".join(
            line.replace("&", "&amp;").replace("<", "&lt;") for line in footer.splitlines()
        )
        html = f'{payload["html"]}<hr><p style="font-size:small">{footer_html}</p>'
        mail = MIMEMultipart("alternative")
        mail.attach(text)
        mail.attach(MIMEText(html, "html", "utf-8"))
    sender = engage.sender
    mail["From"] = (
        formataddr((engage.sender_name, sender), "utf-8") if engage.sender_name else sender
    )
    mail["To"] = message.recipient.strip()
    subject = subject_for(str(payload.get("subject", "")), message.language, message.advertising)
    mail["Subject"] = _header(subject)
    mail["Message-ID"] = f"<{message.message_id}@{_domain(sender)}>"
    mail["Date"] = formatdate(localtime=False)
    mail["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["Content-Language"] = message.language
    mail["X-Retain-Message"] = message.message_id
    return mail


def _status(text: bytes | str) -> str:
    """The enhanced status code (RFC 3463) a reply starts with, e.g. ``5.1.1``; "" when none."""
    words = (text.decode(errors="replace") if isinstance(text, bytes) else str(text)).split()
    return words[0] if words and re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", words[0]) else ""


def _names_mailbox(text: bytes | str, *, unknown: bool) -> bool:
    """Whether a refusal is about the recipient's mailbox (5.1.x address, 5.2.x mailbox).

    A 5.7.x refusal at RCPT ("relay denied", "client host blocked using a DNS blocklist") is
    about the sender and would suppress every recipient. ``unknown``: a reply with no enhanced
    code (older servers).
    """
    status = _status(text)
    return status.startswith(("5.1.", "5.2.")) if status else unknown


class _NoUtf8Error(smtplib.SMTPNotSupportedError):
    """The server cannot take a message to or from a non-ASCII address."""


@dataclass(frozen=True)
class SendResult:
    """``ok``; else whether a retry may help and whether the address must be suppressed."""

    ok: bool
    retryable: bool
    suppress: bool
    detail: str


class SmtpSender:
    """One SMTP connection reused across messages, opened on first use and again after a drop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        timeout = s.smtp_timeout_seconds
        smtp: smtplib.SMTP
        if s.smtp_ssl:
            smtp = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password)
        return smtp

    def close(self) -> None:
        """Say QUIT (best effort) and forget the connection."""
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None

    def send(self, mail: Message) -> SendResult:
        """Hand ``mail`` to the server: accepted, refused for good (5xx) or for now."""
        for retry in (False, True):
            try:
                if self._smtp is None:
                    self._smtp = self._open()
                refused = self._transmit(self._smtp, mail)
            except smtplib.SMTPServerDisconnected as exc:
                self._smtp = None
                if retry:
                    return SendResult(False, True, False, f"disconnected: {exc}")
                continue
            except _NoUtf8Error as exc:  # this server can never take it: fail, list no one
                return SendResult(False, False, False, str(exc))
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                return self._refusal(code, text, recipient=_names_mailbox(text, unknown=True))
            except smtplib.SMTPSenderRefused as exc:
                return SendResult(False, True, False, f"sender refused {exc.smtp_code}")
            except smtplib.SMTPAuthenticationError as exc:
                self.close()
                return SendResult(False, True, False, f"authentication {exc.smtp_code}")
            except smtplib.SMTPDataError as exc:
                # After DATA a 5xx is usually about the message or the sender (policy, DMARC,
                # size): the message fails, but only a mailbox status (5.1.x) lists the address.
                self._reset()
                return self._refusal(
                    exc.smtp_code,
                    exc.smtp_error,
                    recipient=_names_mailbox(exc.smtp_error, unknown=False),
                )
            except smtplib.SMTPResponseException as exc:
                # Greeting, EHLO, STARTTLS: the server, not the recipient; try again later.
                self.close()
                return SendResult(False, True, False, f"{exc.smtp_code} {exc.smtp_error!r}")
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                return SendResult(False, True, False, f"{type(exc).__name__}: {exc}")
            if refused:
                code, text = next(iter(refused.values()))
                return self._refusal(code, text, recipient=_names_mailbox(text, unknown=True))
            return SendResult(True, False, False, "250")
        return SendResult(False, True, False, "disconnected")

    @staticmethod
    def _transmit(smtp: smtplib.SMTP, mail: Message) -> dict[str, tuple[int, bytes]]:
        """``send_message``, and SMTPUTF8 (RFC 6531) for a non-ASCII address such as 山田@例え.jp.

        ``send_message`` asks the message's policy for ``utf8``, which the compat32 messages of
        :func:`compose` lack (TypeError); such a message is written with the SMTPUTF8 policy.
        """
        sender, to = str(mail["From"] or ""), str(mail["To"] or "")
        if sender.isascii() and to.isascii():
            return smtp.send_message(mail)
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("smtputf8"):
            raise _NoUtf8Error("the server lacks SMTPUTF8, needed for a non-ASCII address")
        data = mail.as_bytes(policy=email.policy.SMTPUTF8)
        envelope_from = parseaddr(sender)[1] or sender
        recipients = [address for _name, address in getaddresses([to]) if address]
        return smtp.sendmail(
            envelope_from, recipients, data, mail_options=["SMTPUTF8", "BODY=8BITMIME"]
        )

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    @staticmethod
    def _refusal(code: int, text: bytes | str, *, recipient: bool) -> SendResult:
        detail = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
        permanent = 500 <= code < 600
        return SendResult(False, not permanent, permanent and recipient, detail.strip())
