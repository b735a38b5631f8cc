"""E-mail through a real SMTP server (aiosmtpd on a free loopback port)."""

from __future__ import annotations

import pytest
from _delivery import app_db, engage_settings, sessions_for, smtp_server

from retain.engage import outbox, suppression
from retain.engage.email import KOREAN_AD_PREFIX, subject_for
from retain.engage.worker import Worker

__all__ = ["app_db"]


def _queue(sessions, key: str, to: str, *, language: str = "en", advertising: bool = True):
    with sessions() as session:
        row = outbox.enqueue(
            session,
            customer_id=f"C-{key}",
            channel="email",
            recipient=to,
            payload={"subject": "We miss you", "body": f"Hello {key}"},
            idempotency_key=key,
            language=language,
            advertising=advertising,
            playbook="winback-60",
        )
        session.commit()
        return row.message_id


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


def test_headers_footer_and_stable_message_id(app_db, tmp_path, smtp):
    handler, port = smtp
    sessions = sessions_for(app_db)
    settings = engage_settings(tmp_path, app_db, port)
    message_id = _queue(sessions, "en-1", "Alice@Example.com")
    report = Worker(settings, sessions, log_interactions=False).drain()
    assert report.sent == 1
    (mail,) = handler.messages
    assert mail["Message-ID"] == f"<{message_id}@shop.example>"
    assert mail["From"] == "Tea Shop <news@shop.example>"
    assert mail["To"] == "Alice@Example.com"
    assert mail["Subject"] == "We miss you"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip().strip("<>")
    assert link.startswith("http://127.0.0.1:8000/unsubscribe/")
    body = mail.get_content()
    assert "Hello en-1" in body and link in body
    assert "Tea Shop" in body and "1-2-3 Example, Tokyo" in body and "help@shop.example" in body
    with sessions() as session:
        key = suppression.signing_key(session)
        who = suppression.read_token(key, link.rsplit("/", 1)[1])
        assert who == suppression.Unsubscribe("alice@example.com", "C-en-1")
        assert suppression.read_token(key, link.rsplit("/", 1)[1][:-2] + "xx") is None
        assert outbox.counts(session)["sent"] == 1


def test_japanese_mail_carries_the_act_on_specified_electronic_mail_footer(app_db, tmp_path, smtp):
    handler, port = smtp
    sessions = sessions_for(app_db)
    _queue(sessions, "ja-1", "hanako@example.jp", language="ja")
    Worker(engage_settings(tmp_path, app_db, port), sessions, log_interactions=False).drain()
    (mail,) = handler.messages
    body = mail.get_content()
    # 特定電子メール法 第4条: the sender's name, the opt-out address and a notice that the
    # recipient may refuse, the postal address and a contact for complaints.
    for words in ("送信者: Tea Shop", "住所: 1-2-3 Example, Tokyo", "お問い合わせ先", "配信停止"):
        assert words in body
    assert mail["Content-Language"] == "ja"


def test_korean_advertising_subject_starts_with_the_ad_marker(app_db, tmp_path, smtp):
    handler, port = smtp
    sessions = sessions_for(app_db)
    _queue(sessions, "ko-ad", "minsu@example.kr", language="ko")
    _queue(sessions, "ko-info", "jiwoo@example.kr", language="ko", advertising=False)
    Worker(engage_settings(tmp_path, app_db, port), sessions, log_interactions=False).drain()
    subjects = {str(m["To"]): str(m["Subject"]) for m in handler.messages}
    assert subjects["minsu@example.kr"] == "(광고) We miss you"
    assert subjects["jiwoo@example.kr"] == "We miss you"
    assert "수신거부" in handler.messages[0].get_content()


def test_subject_prefix_is_never_doubled():
    assert subject_for(f"{KOREAN_AD_PREFIX} Hi", "ko", True) == f"{KOREAN_AD_PREFIX} Hi"
    assert subject_for("Hi", "ja", True) == "Hi"


def test_a_permanent_refusal_suppresses_the_address(app_db, tmp_path, smtp):
    handler, port = smtp
    handler.refuse.add("gone@example.com")
    sessions = sessions_for(app_db)
    _queue(sessions, "gone", "gone@example.com")
    _queue(sessions, "ok", "ok@example.com")
    report = Worker(
        engage_settings(tmp_path, app_db, port), sessions, log_interactions=False
    ).drain()
    assert (report.sent, report.failed) == (1, 1)
    with sessions() as session:
        assert suppression.is_suppressed(session, "GONE@example.com")
        assert not suppression.is_suppressed(session, "ok@example.com")
    # A later message to the suppressed address is not even offered to the server: it is
    # withdrawn (cancelled, reason "suppressed"), not counted as a failure.
    _queue(sessions, "gone-again", "gone@example.com")
    report = Worker(
        engage_settings(tmp_path, app_db, port), sessions, log_interactions=False
    ).drain()
    assert (report.failed, report.cancelled) == (0, 1) and len(handler.messages) == 1
    with sessions() as session:
        (row,) = outbox.problems(session, states=("cancelled",))
        assert (row.idempotency_key, row.cancel_reason) == ("gone-again", "suppressed")
        assert outbox.counts(session)["failed"] == 1


def test_a_temporary_refusal_is_retried(app_db, tmp_path, smtp):
    handler, port = smtp
    handler.transient.add("busy@example.com")
    sessions = sessions_for(app_db)
    _queue(sessions, "busy", "busy@example.com")
    settings = engage_settings(
        tmp_path, app_db, port, backoff_seconds=3600, backoff_max_seconds=7200
    )
    report = Worker(settings, sessions, log_interactions=False).drain()
    assert report.retried == 1
    with sessions() as session:
        counts = outbox.counts(session)
        assert counts["queued"] == 1
        assert not suppression.is_suppressed(session, "busy@example.com")


def test_an_unreachable_server_keeps_the_messages(app_db, tmp_path):
    from _delivery import free_port

    sessions = sessions_for(app_db)
    _queue(sessions, "k", "a@example.com")
    settings = engage_settings(
        tmp_path, app_db, free_port(), backoff_seconds=3600, backoff_max_seconds=7200
    )
    report = Worker(settings, sessions, log_interactions=False).drain()
    assert report.retried == 1 and report.sent == 0


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_authentication_is_used_when_configured(app_db, tmp_path):
    from _delivery import SmtpHandler, free_port
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    handler, port = SmtpHandler(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,  # loopback test only; real servers use STARTTLS first
    )
    controller.start()
    try:
        sessions = sessions_for(app_db)
        _queue(sessions, "auth-ok", "a@example.com")
        settings = engage_settings(
            tmp_path, app_db, port, backoff_seconds=3600, backoff_max_seconds=7200
        )
        settings.smtp_username, settings.smtp_password = "mailer", "wrong"
        report = Worker(settings, sessions, log_interactions=False).drain()
        # A refused login is the sender's problem, not the address's: retried, not suppressed.
        assert report.retried == 1 and handler.messages == []
        with sessions() as session:
            assert not suppression.is_suppressed(session, "a@example.com")
            session.execute(
                outbox.update(outbox.OutboxMessage).values(next_attempt_at=outbox.utcnow())
            )
            session.commit()
        settings.smtp_password = "s3cret"
        report = Worker(settings, sessions, log_interactions=False).drain()
        assert report.sent == 1 and len(handler.messages) == 1
    finally:
        controller.stop()
    assert logins[-1] == (b"mailer", b"s3cret")


def test_header_injection_is_refused_and_subjects_stay_on_one_line(app_db, tmp_path, smtp):
    from retain.engage.email import valid_address

    handler, port = smtp
    for bad in ("a@example.com\r\nBcc: victim@example.com", "A <a@example.com>", "no-at", "a@b"):
        assert not valid_address(bad)
    assert valid_address("first.last+tag@example.co.jp")
    assert subject_for("Hi\r\nBcc: x@example.com", "en", True) == "Hi Bcc: x@example.com"
    sessions = sessions_for(app_db)
    _queue(sessions, "inject", "a@example.com\nBcc: victim@example.com")
    report = Worker(
        engage_settings(tmp_path, app_db, port), sessions, log_interactions=False
    ).drain()
    assert report.failed == 1 and handler.messages == []


def test_a_bad_row_does_not_stop_the_worker(app_db, tmp_path, smtp):
    handler, port = smtp
    sessions = sessions_for(app_db)
    _queue(sessions, "broken", "a@example.com")
    _queue(sessions, "fine", "b@example.com")
    with sessions() as session:
        row = session.scalars(
            outbox.select(outbox.OutboxMessage).where(
                outbox.OutboxMessage.idempotency_key == "broken"
            )
        ).one()
        row.payload = "not json"
        session.commit()
    settings = engage_settings(
        tmp_path, app_db, port, backoff_seconds=3600, backoff_max_seconds=7200
    )
    report = Worker(settings, sessions, log_interactions=False).drain()
    assert (report.sent, report.retried) == (1, 1)
    assert [str(m["To"]) for m in handler.messages] == ["b@example.com"]


def test_a_content_refusal_fails_the_message_but_suppresses_no_one(app_db, tmp_path):
    # A 5xx after DATA about the message or the sender (DMARC, spam filter, size) said nothing
    # about the recipient, yet every address of the batch went on the suppression list: one
    # misconfigured DKIM key unsubscribed the whole book.
    from _delivery import free_port
    from aiosmtpd.controller import Controller

    class RejectsContent:
        async def handle_DATA(self, server, session, envelope):
            if b"spam" in envelope.content:
                return "554 5.7.1 message refused by policy"
            return "552 5.3.4 message too big"

    port = free_port()
    controller = Controller(RejectsContent(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sessions = sessions_for(app_db)
        _queue(sessions, "a", "a@example.com")
        _queue(sessions, "b", "b@example.com")
        report = Worker(
            engage_settings(tmp_path, app_db, port), sessions, log_interactions=False
        ).drain()
    finally:
        controller.stop()
    assert report.failed == 2
    with sessions() as session:
        assert suppression.suppressed_among(session, ["a@example.com", "b@example.com"]) == set()


def test_a_data_refusal_naming_the_mailbox_still_suppresses_it(app_db, tmp_path):
    # Some servers accept RCPT and refuse the mailbox only after DATA (enhanced code 5.1.x).
    from _delivery import free_port
    from aiosmtpd.controller import Controller

    class RefusesAtData:
        async def handle_DATA(self, server, session, envelope):
            return "550 5.1.1 no such user"

    port = free_port()
    controller = Controller(RefusesAtData(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sessions = sessions_for(app_db)
        _queue(sessions, "gone", "gone@example.com")
        report = Worker(
            engage_settings(tmp_path, app_db, port), sessions, log_interactions=False
        ).drain()
    finally:
        controller.stop()
    assert report.failed == 1
    with sessions() as session:
        assert suppression.is_suppressed(session, "gone@example.com")


def test_a_blocklist_refusal_at_rcpt_suppresses_no_one(app_db, tmp_path):
    # "554 5.7.1 ... blocked using zen.spamhaus.org" at RCPT is about the sending host: listing
    # the recipient would unsubscribe every customer while the sender's IP is on a blocklist.
    from _delivery import free_port
    from aiosmtpd.controller import Controller

    class Blocklisted:
        async def handle_RCPT(self, server, session, envelope, address, options):
            if address.startswith("gone"):
                return "550 User unknown"  # no enhanced code: an older server, still a mailbox
            return "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"

    port = free_port()
    controller = Controller(Blocklisted(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sessions = sessions_for(app_db)
        _queue(sessions, "a", "a@example.com")
        _queue(sessions, "gone", "gone@example.com")
        report = Worker(
            engage_settings(tmp_path, app_db, port), sessions, log_interactions=False
        ).drain()
    finally:
        controller.stop()
    assert report.failed == 2
    with sessions() as session:
        assert suppression.suppressed_among(session, ["a@example.com", "gone@example.com"]) == {
            "gone@example.com"
        }


def test_an_internationalised_address_is_delivered_with_smtputf8(app_db, tmp_path):
    # A Japanese local part (RFC 6531) passed valid_address but smtplib asked the compat32
    # message for policy.clone(utf8=True): TypeError on every try until the message was dead.
    import email as email_lib
    import email.policy

    from _delivery import free_port
    from aiosmtpd.controller import Controller

    got: list = []

    class Utf8:
        async def handle_DATA(self, server, session, envelope):
            got.append((envelope.rcpt_tos, envelope.content))
            return "250 OK"

    port = free_port()
    controller = Controller(Utf8(), hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    try:
        sessions = sessions_for(app_db)
        _queue(sessions, "yamada", "山田@例え.jp", language="ja")
        report = Worker(
            engage_settings(tmp_path, app_db, port), sessions, log_interactions=False
        ).drain()
    finally:
        controller.stop()
    assert report.sent == 1
    ((rcpt, content),) = got
    assert rcpt == ["山田@例え.jp"]
    parsed = email_lib.message_from_bytes(content, policy=email.policy.default)
    assert str(parsed["To"]) == "山田@例え.jp"
    assert parsed["List-Unsubscribe"].startswith("<http")


def test_an_internationalised_address_fails_for_good_without_smtputf8(app_db, tmp_path):
    from _delivery import free_port
    from aiosmtpd.controller import Controller

    class Plain:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = free_port()
    controller = Controller(Plain(), hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        sessions = sessions_for(app_db)
        _queue(sessions, "kim", "김@예시.kr", language="ko")
        report = Worker(
            engage_settings(tmp_path, app_db, port), sessions, log_interactions=False
        ).drain()
    finally:
        controller.stop()
    assert (report.sent, report.failed, report.retried) == (0, 1, 0)
    with sessions() as session:
        assert not suppression.is_suppressed(session, "김@예시.kr")
