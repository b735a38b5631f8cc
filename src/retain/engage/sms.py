r"""SMS through an HTTP gateway: the text as the law wants it, its length in segments, the POST.

A gateway is configured in ``[sms]`` (:class:`retain.config.SmsSettings`): one POST per
message to ``gateway_url``, as a JSON object or an HTML form (Twilio's shape: ``To``, ``From``,
``Body`` with ``Authorization: Basic ...``), with the credential header from the configuration
or the environment (``RETAIN_SMS__AUTH_VALUE``) and the message's ``Idempotency-Key``.
Every hop, redirects included, passes the same guard as webhooks
(:func:`retain.engage.netguard.check_url`) and connects to the checked address.

Length (3GPP TS 23.038 and 23.040): a text written only in the GSM 7-bit default alphabet takes
160 characters in one message, 153 per part once concatenated (the user-data header takes 7);
the extension table's characters (``^{}\[~]|€`` and form feed) take two. Anything else
(Japanese, Korean, most emoji) is sent as UCS-2: 70 UTF-16 units in one message, 67 per part.
Parts never split an escape pair or a surrogate pair. The count is recorded on the outbox row.

Korean advertising SMS (Information and Communications Network Act, art. 50, and its decree,
art. 61) starts with "(광고)" and the sender's name and ends with a free opt-out number
("무료수신거부 080-..."): :func:`compose_text` adds both, and refuses to send one without
``optout_number``. Other advertising SMS carry the opt-out line when a number is configured.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

from retain.config import SmsSettings
from retain.engage.email import KOREAN_AD_PREFIX
from retain.engage.netguard import BlockedTargetError, Resolver, check_url, connect_checked
from retain.i18n import language, t

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "SmsLength",
    "SmsResult",
    "compose_text",
    "measure",
    "normal_number",
    "send_sms",
]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet (one septet each)."""
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
"""The extension table: an escape septet and the character (two septets each)."""

_SINGLE = {"gsm7": 160, "ucs2": 70}
_PART = {"gsm7": 153, "ucs2": 67}
_REDIRECTS = {301, 302, 303, 307, 308}
_NUMBER = re.compile(r"\+?[0-9]{6,15}")


@dataclass(frozen=True)
class SmsLength:
    """How a text travels: its encoding, its length in that encoding's units, its parts."""

    encoding: str
    units: int
    segments: int

    @property
    def per_segment(self) -> int:
        """Units one part holds (a single message holds more than a part of a long one)."""
        return _SINGLE[self.encoding] if self.segments == 1 else _PART[self.encoding]


def _units(text: str) -> tuple[str, list[int]]:
    """The encoding and each character's cost in its units (septets or UTF-16 units)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return "gsm7", [2 if c in GSM7_EXTENSION else 1 for c in text]
    return "ucs2", [2 if ord(c) > 0xFFFF else 1 for c in text]


def measure(text: str) -> SmsLength:
    """Encoding, length and number of segments of ``text`` (an empty text is one segment)."""
    encoding, costs = _units(text)
    total = sum(costs)
    if total <= _SINGLE[encoding]:
        return SmsLength(encoding, total, 1)
    segments, used = 1, 0
    for cost in costs:  # a pair never splits: it starts the next part instead
        if used + cost > _PART[encoding]:
            segments, used = segments + 1, 0
        used += cost
    return SmsLength(encoding, total, segments)


def normal_number(phone: str) -> str | None:
    """The number without spaces, dashes, dots or brackets (``+`` kept), or None if not one."""
    number = re.sub(r"[\s\-().]", "", phone or "")
    return number if _NUMBER.fullmatch(number) else None


class OptOutMissingError(ValueError):
    """A Korean advertising SMS needs a free opt-out number and none is configured."""


def compose_text(
    body: str, *, lang: str, advertising: bool, sender_name: str, optout_number: str
) -> str:
    """The text sent: ``body`` with what advertising SMS must carry in the recipient's country.

    Korean advertising: "(광고)" and the sender's name first, the free opt-out line last (never
    twice); :class:`OptOutMissingError` without ``optout_number``. Other advertising SMS end
    with the opt-out line in their language when a number is configured.
    """
    text = body.strip()
    if not advertising:
        return text
    if lang == "ko":
        if not optout_number:
            raise OptOutMissingError(t("engage_outbox.sms_optout_missing"))
        if not text.startswith(KOREAN_AD_PREFIX):
            head = f"{KOREAN_AD_PREFIX}{sender_name}" if sender_name else KOREAN_AD_PREFIX
            text = f"{head}\n{text}"
    if optout_number:
        with language(lang):
            line = t("engage_outbox.sms_optout", number=optout_number)
        if line not in text:
            text = f"{text}\n{line}"
    return text


@dataclass(frozen=True)
class SmsResult:
    """What the gateway said: ``ok``; otherwise whether a retry may help, and why not."""

    ok: bool
    retryable: bool
    status: int | None
    detail: str


def _body(config: SmsSettings, to: str, text: str) -> tuple[bytes, str]:
    fields: dict[str, Any] = {
        **config.extra_fields,
        config.to_field: to,
        config.from_field: config.sender,
        config.text_field: text,
    }
    if config.format == "form":
        return urlencode(fields).encode(), "application/x-www-form-urlencoded; charset=utf-8"
    return json.dumps(fields, ensure_ascii=False).encode(), "application/json; charset=utf-8"


def send_sms(
    config: SmsSettings,
    to: str,
    text: str,
    *,
    idempotency_key: str,
    resolver: Resolver | None = None,
    max_redirects: int = 3,
    headers: Mapping[str, str] | None = None,
) -> SmsResult:
    """POST one message to the gateway; 2xx is accepted, 408/425/429/5xx and errors retried."""
    body, content_type = _body(config, to, text)
    url = config.gateway_url
    origin: tuple[str, str, int] | None = None
    for _hop in range(max_redirects + 1):
        try:
            target = check_url(url, allow=config.allow_private, resolver=resolver)
        except BlockedTargetError as exc:
            return SmsResult(False, False, None, exc.message)
        here = (target.scheme, target.host.lower(), target.port)
        if origin is None:
            origin = here
        elif origin[0] == "https" and target.scheme != "https":  # never downgrade the text
            return SmsResult(False, False, None, f"redirect from https to {target.scheme} refused")
        # the gateway's credential and extra headers go to the gateway's own origin only: a
        # redirect elsewhere gets the message, not the key to send more
        own = here == origin
        default_port = 443 if target.scheme == "https" else 80
        host = f"[{target.host}]" if ":" in target.host else target.host
        sent = {
            "Host": host if target.port == default_port else f"{host}:{target.port}",
            "Content-Type": content_type,
            "User-Agent": "retain-sms/1",
            "Idempotency-Key": idempotency_key,
            **({config.auth_header: config.auth_value} if config.auth_value and own else {}),
            **(headers or {} if own else {}),
        }
        conn = connect_checked(target, config.timeout_seconds)
        try:
            conn.request("POST", target.path, body=body, headers=sent)
            response = conn.getresponse()
            status = response.status
            location = response.getheader("Location")
            answer = response.read(2048).decode(errors="replace").strip()
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            return SmsResult(False, True, None, f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
        if status in _REDIRECTS and location:
            url = urljoin(url, location)
            continue
        detail = f"HTTP {status}" + (f": {answer[:300]}" if answer and status >= 300 else "")
        if 200 <= status < 300:
            return SmsResult(True, False, status, detail)
        retryable = status in (408, 425, 429) or status >= 500
        return SmsResult(False, retryable, status, detail)
    return SmsResult(False, False, None, f"more than {max_redirects} redirects")
