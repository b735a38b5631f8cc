"""SMS: segments counted as the standards count them, Korean ad rules, delivery to a real gateway.

The gateway is a real HTTP server on a free loopback port that records every request, fails the
first ones when asked, or answers with a chosen status, as an SMS provider's API would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

import pytest
from _delivery import Answer, Receiver, app_db, engage_settings, http_server, sessions_for
from sqlalchemy import select

from retain.config import SmsSettings
from retain.engage import outbox, suppression
from retain.engage._tables import DeliveryAttempt, OutboxMessage
from retain.engage.email import KOREAN_AD_PREFIX
from retain.engage.sms import OptOutMissingError, compose_text, measure, normal_number
from retain.engage.worker import Worker

__all__ = ["app_db"]

AUTH = "Basic dGVzdDpzZWNyZXQ="


# Segment sizes from 3GPP TS 23.038 (the GSM 7-bit alphabet and its extension table: an escape
# and the character) and TS 23.040 (a concatenated part loses 6 octets to the user-data header:
# 153 septets or 67 UCS-2 characters instead of 160 or 70).
@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "gsm7", 0, 1),
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),  # the extension table: two septets each
        ("€" * 81, "gsm7", 162, 2),
        # an escape pair never splits: 152 + (2) + 152 septets fit 306 but need 3 parts
        ("a" * 152 + "€" + "a" * 152, "gsm7", 306, 3),
        ("Ça coûte 5 £ ?", "ucs2", 14, 1),  # û is not in the GSM alphabet
        ("あ" * 70, "ucs2", 70, 1),
        ("あ" * 71, "ucs2", 71, 2),
        ("あ" * 134, "ucs2", 134, 2),
        ("あ" * 135, "ucs2", 135, 3),
        ("안" * 70, "ucs2", 70, 1),
        ("안" * 71, "ucs2", 71, 2),
        ("😀" * 35, "ucs2", 70, 1),  # outside the BMP: a surrogate pair, two units
        # a surrogate pair never splits: 66 + (2) + 66 units fit 134 but need 3 parts
        ("あ" * 66 + "😀" + "あ" * 66, "ucs2", 134, 3),
    ],
)
def test_segments_follow_gsm7_and_ucs2(text, encoding, units, segments):
    length = measure(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)
    single, part = {"gsm7": (160, 153), "ucs2": (70, 67)}[encoding]
    assert length.per_segment == (single if segments == 1 else part)


def test_numbers_are_normalised_and_checked():
    assert normal_number(" +81 (90) 1234-5678 ") == "+819012345678"
    assert normal_number("010.1234.5678") == "01012345678"
    assert normal_number("call me") is None and normal_number("+12") is None


def test_korean_advertising_sms_carries_the_prefix_name_and_free_opt_out_line():
    text = compose_text(
        "쿠폰이 도착했어요",
        lang="ko",
        advertising=True,
        sender_name="티숍",
        optout_number="080-123-4567",
    )
    assert text == f"{KOREAN_AD_PREFIX}티숍\n쿠폰이 도착했어요\n무료수신거부 080-123-4567"
    # never twice, and nothing added to a message that is not advertising
    again = compose_text(
        text, lang="ko", advertising=True, sender_name="티숍", optout_number="080-123-4567"
    )
    assert again == text
    plain = compose_text(
        "배송 안내", lang="ko", advertising=False, sender_name="티숍", optout_number=""
    )
    assert plain == "배송 안내"
    with pytest.raises(OptOutMissingError):
        compose_text("광고", lang="ko", advertising=True, sender_name="티숍", optout_number="")
    ja = compose_text(
        "クーポン", lang="ja", advertising=True, sender_name="", optout_number="0120-000-000"
    )
    assert ja == "クーポン\n配信停止（無料）: 0120-000-000"


@contextmanager
def sms_gateway() -> Iterator[Receiver]:
    """The gateway: ``fail_first`` requests get 503, then ``status`` with the provider's JSON."""
    state = Receiver(status=201, path="/v1/messages")

    def on_post(path: str, headers: Message, body: bytes) -> Answer:
        with state.lock:
            state.record(path, headers, body)
            status = state.next_status()
        answer = b'{"error": "invalid number"}' if status == 400 else b'{"sid": "SM1"}'
        return status, {}, answer

    with http_server(on_post) as port:
        state.port = port
        yield state


def _settings(tmp_path, url: str, gateway: Receiver, **sms: Any):
    values: dict[str, Any] = {
        "gateway_url": gateway.url,
        "auth_value": AUTH,
        "sender": "+15005550006",
        "optout_number": "080-123-4567",
        "allow_private": ["127.0.0.0/8"],
        "timeout_seconds": 5,
    }
    values.update(sms)
    settings = engage_settings(tmp_path, url, max_attempts=3)
    settings.sms = SmsSettings(**values)
    return settings


def _queue(sessions, key: str, phone: str, body: str, lang: str = "en", ad: bool = True) -> str:
    with sessions() as session:
        row = outbox.enqueue(
            session,
            customer_id=f"C-{key}",
            channel="sms",
            recipient=phone,
            payload={"body": body},
            idempotency_key=key,
            language=lang,
            advertising=ad,
            playbook="winback-60",
        )
        session.commit()
        return row.message_id


def _row(sessions, message_id: str) -> OutboxMessage:
    with sessions() as session:
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.message_id == message_id)
        ).one()


def test_sms_goes_to_the_gateway_as_json_with_auth_key_and_counted_segments(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with sms_gateway() as gw:
        settings = _settings(tmp_path, app_db, gw)
        ko = _queue(sessions, "ko-1", "010-1234-5678", "다시 만나요! " * 10, lang="ko")
        en = _queue(sessions, "en-1", "+1 (555) 010-0001", "Welcome back", ad=False)
        worker = Worker(settings, sessions, log_interactions=False)
        assert "sms" in worker.channels()
        report = worker.drain()
    assert report.sent == 2
    by_to = {json.loads(r["body"])["to"]: r for r in gw.requests}
    korean = by_to["01012345678"]
    sent = json.loads(korean["body"])
    assert sent["from"] == "+15005550006"
    assert sent["text"].startswith(f"{KOREAN_AD_PREFIX}Tea Shop\n")
    assert sent["text"].endswith("\n무료수신거부 080-123-4567")
    assert korean["headers"]["Authorization"] == AUTH
    assert korean["headers"]["Idempotency-Key"] == "ko-1"
    assert korean["headers"]["Content-Type"].startswith("application/json")
    row = _row(sessions, ko)
    assert row.state == "sent" and row.segments == measure(sent["text"]).segments == 2
    assert json.loads(by_to["+15550100001"]["body"])["text"] == "Welcome back"
    assert _row(sessions, en).segments == 1
    with sessions() as session:
        detail = session.scalars(
            select(DeliveryAttempt.detail).where(DeliveryAttempt.message_id == ko)
        ).one()
    assert "ucs2" in detail and "2 segment" in detail


def test_a_form_gateway_gets_twilio_shaped_fields(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with sms_gateway() as gw:
        settings = _settings(
            tmp_path,
            app_db,
            gw,
            format="form",
            to_field="To",
            from_field="From",
            text_field="Body",
            extra_fields={"StatusCallback": "https://shop.example/sms"},
        )
        _queue(sessions, "form-1", "+81 90 1234 5678", "お帰りなさい", lang="ja", ad=False)
        assert Worker(settings, sessions, log_interactions=False).drain().sent == 1
    (request,) = gw.requests
    assert request["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    fields = parse_qs(request["body"].decode())
    assert fields == {
        "To": ["+819012345678"],
        "From": ["+15005550006"],
        "Body": ["お帰りなさい"],
        "StatusCallback": ["https://shop.example/sms"],
    }


def test_gateway_errors_are_retried_with_backoff_then_dead(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with sms_gateway() as gw:
        settings = _settings(tmp_path, app_db, gw)
        gw.fail_first = 2
        flaky = _queue(sessions, "flaky", "+15550100002", "hi", ad=False)
        worker = Worker(settings, sessions, log_interactions=False)
        report = worker.drain()
        for _ in range(50):  # the backoff of the test settings is tens of milliseconds
            if _row(sessions, flaky).state != "queued":
                break
            threading.Event().wait(0.05)
            report.add(worker.drain())
        assert _row(sessions, flaky).state == "sent" and report.retried == 2
        keys = {r["headers"]["Idempotency-Key"] for r in gw.requests}
        assert keys == {"flaky"} and len(gw.requests) == 3  # the same key on every try
        gw.status = 503
        down = _queue(sessions, "down", "+15550100003", "hi", ad=False)
        for _ in range(50):
            worker.drain()
            if _row(sessions, down).state != "queued":
                break
            threading.Event().wait(0.05)
    row = _row(sessions, down)
    assert (row.state, row.attempts) == ("dead", 3) and "HTTP 503" in (row.last_error or "")


def test_refusals_fail_at_once_and_problems_never_reach_the_gateway(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with sms_gateway() as gw:
        settings = _settings(tmp_path, app_db, gw)
        gw.status = 400
        refused = _queue(sessions, "refused", "+15550100004", "hi", ad=False)
        report = Worker(settings, sessions, log_interactions=False).drain()
        assert report.failed == 1 and len(gw.requests) == 1
        row = _row(sessions, refused)
        assert row.state == "failed" and "invalid number" in (row.last_error or "")
        gw.status = 201
        bad = _queue(sessions, "bad", "not a number", "hi", ad=False)
        stopped = _queue(sessions, "stopped", "+1 555 010 0005", "hi", ad=False)
        long = _queue(sessions, "long", "+15550100006", "あ" * 700, ad=False)
        no_optout = _queue(sessions, "no-optout", "+821012345678", "광고", lang="ko")
        with sessions() as session:
            suppression.suppress(session, "+15550100005", "unsubscribe")
            session.commit()
        settings.sms.optout_number = ""
        report = Worker(settings, sessions, log_interactions=False).drain()
        assert len(gw.requests) == 1  # none of them was offered to the gateway
    # The suppression cancelled the queued SMS when it was recorded: no worker had to.
    assert (report.failed, report.cancelled) == (3, 0)
    assert _row(sessions, bad).state == "failed"
    cancelled = _row(sessions, stopped)
    assert (cancelled.state, cancelled.cancel_reason) == ("cancelled", "suppressed")
    assert "segments" in (_row(sessions, long).last_error or "")
    assert "optout_number" in (_row(sessions, no_optout).last_error or "")


def test_the_gateway_passes_the_ssrf_guard(app_db, tmp_path):
    sessions = sessions_for(app_db)
    with sms_gateway() as gw:
        settings = _settings(tmp_path, app_db, gw, allow_private=[])
        blocked = _queue(sessions, "blocked", "+15550100007", "hi", ad=False)
        report = Worker(settings, sessions, log_interactions=False).drain()
        assert gw.requests == []
    assert report.failed == 1
    assert "127.0.0.1" in (_row(sessions, blocked).last_error or "")


def test_without_a_gateway_sms_waits_queued(app_db, tmp_path):
    sessions = sessions_for(app_db)
    settings = engage_settings(tmp_path, app_db)
    waiting = _queue(sessions, "wait", "+15550100008", "hi", ad=False)
    worker = Worker(settings, sessions, log_interactions=False)
    assert "sms" not in worker.channels()
    assert worker.drain().sent == 0
    assert _row(sessions, waiting).state == "queued"


PLAYBOOK = """
[[playbook]]
name = "winback"
trigger = { kind = "inactive", days = 60 }
channel = "best"
fallbacks = ["email", "sms"]
holdout = 0.0
template = "winback"
"""


def test_a_playbook_run_queues_sms_that_the_worker_delivers_in_language(app_db, tmp_path):
    from _engage_data import AS_OF, sources

    from retain.engage.decisions import decide
    from retain.engage.execute import execute
    from retain.engage.playbooks import parse_playbooks, shipped_playbooks

    sessions = sessions_for(app_db)
    playbooks = parse_playbooks(
        PLAYBOOK, source="t.toml", template_dirs=shipped_playbooks().template_dirs
    )
    decisions = decide(playbooks, sources(), AS_OF)
    texting = decisions[decisions["status"].isin(["send", "delayed"])]
    texting = texting[texting["channel"] == "sms"]
    assert list(texting["customer_id"]) == ["a2"]  # no e-mail consent, SMS consent
    with sms_gateway() as gw:
        settings = _settings(tmp_path, app_db, gw, optout_number="0120-000-000")
        with sessions() as session:
            report = execute(session, decisions, playbooks, settings=settings, now=AS_OF)
            session.commit()
        assert report.unsupported == 0
        with sessions() as session:
            (row,) = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms"))
            body = json.loads(row.payload)["body"]
        delivered = Worker(settings, sessions, log_interactions=False)
        delivered.drain()
    (request,) = [r for r in gw.requests if json.loads(r["body"])["to"] == "+81300000000"]
    text = json.loads(request["body"])["text"]
    assert row.language == "ja" and text == f"{body}\n配信停止（無料）: 0120-000-000"
    assert _row(sessions, row.message_id).segments == measure(text).segments


@contextmanager
def _redirector(location: str) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A server answering every POST with 307 to ``location``: its port and the headers sent."""
    seen: list[dict[str, str]] = []

    def on_post(path: str, headers: Message, body: bytes) -> Answer:
        seen.append(dict(headers))
        return 307, {"Location": location}, b""

    with http_server(on_post) as port:
        yield port, seen


def test_a_redirect_to_another_origin_never_carries_the_gateway_credential():
    """The gateway's key and extra headers stay with the gateway's origin: a 307 to another
    host or port gets the message, not the credential."""
    from retain.engage.sms import send_sms

    with sms_gateway() as gw, _redirector(gw.url) as (port, seen):
        config = SmsSettings(
            gateway_url=f"http://127.0.0.1:{port}/v1/send",
            auth_value=AUTH,
            sender="+15005550006",
            allow_private=["127.0.0.0/8"],
            timeout_seconds=5,
        )
        result = send_sms(
            config, "+819012345678", "hi", idempotency_key="k1", headers={"X-Extra": "s"}
        )
    assert result.ok, result.detail
    assert seen[0]["Authorization"] == AUTH and seen[0]["X-Extra"] == "s"
    (landed,) = gw.requests
    assert "Authorization" not in landed["headers"] and "X-Extra" not in landed["headers"]
    assert landed["headers"]["Idempotency-Key"] == "k1"
