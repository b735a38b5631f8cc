"""The SMS gateway's replies: ``POST /api/v1/engage/sms/inbound`` (no login, a shared secret).

The gateway forwards each reply to our SMS here, as JSON or as an HTML form (Twilio's inbound
webhook: ``From``, ``Body``, ``MessageSid``). It proves itself with ``sms.inbound_secret``
(``RETAIN_SMS__INBOUND_SECRET``), either as it is in ``X-Retain-Token`` or as an HMAC-SHA256
signature of the body in ``X-Retain-Signature: t=<unix seconds>,v1=<hex>`` (the same scheme as
our webhooks, :func:`retain.engage.webhooks.verify`, five minutes of tolerance); both are
compared in constant time. Without a configured secret every reply is refused (401).

An opt-out keyword suppresses the number and cancels its queued SMS (200, audited
``engage.sms_opt_out`` once, without the number); another reply from a number we texted is
recorded as ``message_replied`` (200); anything else is ignored (204). See
:mod:`retain.engage.sms_inbound`.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from retain.app._openapi import error_responses
from retain.app.audit import service as audit
from retain.app.deps import SessionDep, SettingsDep
from retain.app.errors import NotAuthenticatedError
from retain.config import SmsSettings
from retain.engage.sms_inbound import receive
from retain.engage.webhooks import verify
from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["router"]

router = APIRouter(tags=["engage"])

GATEWAY = audit.Caller("sms-gateway", "gateway")
"""Who the audit log names for an opt-out received from the gateway."""


class InboundAnswer(BaseModel):
    """What a reply did: ``opted_out`` (``cancelled`` queued SMS) or ``reply_recorded``."""

    action: Literal["opted_out", "reply_recorded"]
    already: bool
    cancelled: int = 0


def _authentic(config: SmsSettings, request: Request, body: bytes) -> bool:
    secret = config.inbound_secret
    if not secret:
        return False
    token = request.headers.get("x-retain-token")
    if token is not None:
        # Bytes: compare_digest raises TypeError on a str that is not ASCII.
        return hmac.compare_digest(token.encode(), secret.encode())
    signature = request.headers.get("x-retain-signature")
    return signature is not None and verify(secret, signature, body)


def _fields(request: Request, body: bytes) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            return {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        found = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidParameterError(t("engage_outbox.sms_inbound_unreadable")) from exc
    if not isinstance(found, dict):
        raise InvalidParameterError(t("engage_outbox.sms_inbound_unreadable"))
    return found


def _first(fields: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = fields.get(name)
        if isinstance(value, str):
            return value
    return None


@router.post(
    "/api/v1/engage/sms/inbound",
    response_model=InboundAnswer,
    responses={
        204: {"description": "Not an opt-out, and not from a number we texted: ignored"},
        **error_responses(401, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            },
        }
    },
)
async def sms_inbound(
    request: Request, session: SessionDep, settings: SettingsDep
) -> InboundAnswer | Response:
    """Act on a reply to our SMS: opt-out keywords suppress the number; others are recorded."""
    body = await request.body()
    config = settings.sms
    if not _authentic(config, request, body):
        raise NotAuthenticatedError(t("engage_outbox.sms_inbound_unauthorized"))
    fields = _fields(request, body)
    number = _first(fields, config.from_field, "from", "From")
    text = _first(fields, config.text_field, "text", "Body", "body")
    if not number or text is None:
        raise InvalidParameterError(
            t("engage_outbox.sms_inbound_fields", number=config.from_field, text=config.text_field)
        )
    inbound_id = _first(fields, "id", "MessageSid", "message_id") or ""

    def apply() -> InboundAnswer | None:
        found = receive(session, number=number, text=text, inbound_id=inbound_id)
        if found.action == "opted_out" and not found.already:
            target = ("customer", found.customer_id or "")
            audit.record(session, GATEWAY, "engage.sms_opt_out", target, cancelled=found.cancelled)
        else:
            session.commit()
        if found.action == "ignored":
            return None
        return InboundAnswer(action=found.action, already=found.already, cancelled=found.cancelled)

    answer = await run_in_threadpool(apply)
    return answer if answer is not None else Response(status_code=204)
