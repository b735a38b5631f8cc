"""Helpers shared by the service tests (a module with a unique name, importable from tests)."""

from __future__ import annotations

import re
from typing import Any

ROLES = ("admin", "analyst", "agent", "ingest")
PASSWORD = "correct horse battery"


def headers(key: str, **extra: str) -> dict[str, str]:
    """Request headers carrying an API key."""
    return {"X-API-Key": key, **extra}


def login(client: Any, email: str, password: str = PASSWORD, lang: str = "en") -> Any:
    """Log in through the form (with its CSRF token); returns the redirect response."""
    page = client.get(f"/login?lang={lang}")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf": token.group(1), "next": "/"},
        follow_redirects=False,
    )


def assign_cases(app: Any, agent: str, *customers: str) -> None:
    """Put ``customers`` in ``agent``'s save-desk queue (the customers an agent may open)."""
    from retain.voice import savedesk

    with app.state.sessionmaker() as session:
        for customer in customers:
            case = savedesk.open_case(session, kind="cancellation", customer_id=customer)
            case.agent, case.status = agent, "assigned"
        session.commit()
