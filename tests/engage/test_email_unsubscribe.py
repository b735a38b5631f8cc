"""The unsubscribe link of every e-mail: a confirmation page, then a POST (RFC 8058 one-click)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from retain.app.db import make_engine, make_sessionmaker
from retain.app.main import create_app
from retain.config import Settings
from retain.engage import suppression


def _client(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
    )
    app = create_app(settings, migrate=True)
    return TestClient(app), make_sessionmaker(make_engine(settings.database_url))


def _token(sessions, address: str = "Alice@Example.com") -> str:
    with sessions() as session:
        return suppression.make_token(suppression.signing_key(session), address, "C1")


def test_get_asks_and_changes_nothing_post_unsubscribes(tmp_path):
    client, sessions = _client(tmp_path)
    token = _token(sessions)
    with client:
        page = client.get(f"/unsubscribe/{token}", headers={"Accept-Language": "ja"})
        assert page.status_code == 200 and 'method="post"' in page.text
        assert "alice@example.com" in page.text and "配信" in page.text
        with sessions() as session:
            assert not suppression.is_suppressed(session, "alice@example.com")
        # What a mailbox provider sends for List-Unsubscribe-Post (RFC 8058 section 3.2).
        done = client.post(
            f"/unsubscribe/{token}",
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "alice@example.com" in done.text
        again = client.post(f"/unsubscribe/{token}")  # idempotent
        assert again.status_code == 200
    with sessions() as session:
        assert suppression.is_suppressed(session, "ALICE@example.com")
        assert suppression.suppressed_among(session, ["alice@example.com", "b@x.com"]) == {
            "alice@example.com"
        }


def test_a_forged_or_damaged_token_is_refused(tmp_path):
    client, sessions = _client(tmp_path)
    token = _token(sessions)
    forged = suppression.make_token(b"not-the-key", "victim@example.com", "C2")
    with client:
        # A non-ASCII signature made hmac.compare_digest raise TypeError: a 500, not a 400.
        for bad in (forged, token[:-3] + "abc", "garbage", "a.b", token[:-3] + "\u3042"):
            assert client.post(f"/unsubscribe/{bad}").status_code == 400
            assert client.get(f"/unsubscribe/{bad}").status_code == 400
    with sessions() as session:
        assert (
            suppression.suppressed_among(session, ["victim@example.com", "alice@example.com"])
            == set()
        )
