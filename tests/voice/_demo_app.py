"""A small demo business with real models, served by the app: the voice end-to-end tests' base.

800 customers (seed 5), a real churn model for the subscription line and real CLV scores (the
demo pipeline's own steps); with ``uplift=True`` also the uplift the pipeline stores for each
planner action (``uplift_scores``), so the offer planner reads campaign history as it does on
``make demo``. Users per role (password :data:`PASSWORD`) and API keys for analyst and ingest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

import retain.warehouse as wh
from retain.cli._pipeline import DEMO_CHURN, PipelineResult, _churn, _clv, _uplift
from retain.config import Settings
from retain.demo import generate

PASSWORD = "correct horse battery"
AGENT = "agent@example.org"
ANALYST = "analyst@example.org"
SUBSCRIPTION = DEMO_CHURN[1]


@contextmanager
def served_demo(root: Path, *, uplift: bool = False) -> Iterator[dict[str, Any]]:
    """The demo in DuckDB under ``root`` and the app serving it: app, con, settings, keys."""
    from argon2 import PasswordHasher

    from retain.app.auth import service as auth
    from retain.app.main import create_app

    settings = Settings(
        warehouse_url=f"duckdb:///{(root / 'warehouse.duckdb').as_posix()}",
        database_url=f"sqlite:///{(root / 'app.db').as_posix()}",
        models_dir=root / "models",
        churn=list(DEMO_CHURN),
    )
    con = wh.connect(settings=settings)
    generate(customers=800, seed=5).load(con)
    result = PipelineResult()
    _churn(con, settings, (SUBSCRIPTION,), result)
    _clv(con, settings, result)
    if uplift:
        _uplift(con, settings, (SUBSCRIPTION,), result)
    app = create_app(settings, warehouse=con, migrate=True)
    hasher = auth._hasher
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    keys: dict[str, str] = {}
    with app.state.sessionmaker() as session:
        for role in ("admin", "analyst", "agent"):
            auth.create_user(session, email=f"{role}@example.org", role=role, password=PASSWORD)
        for role in ("analyst", "ingest"):
            _, keys[role] = auth.create_api_key(
                session, name=f"{role}-key", role=role, created_by="tests"
            )
        session.commit()
    try:
        yield {"app": app, "con": con, "settings": settings, "keys": keys}
    finally:
        auth._hasher = hasher
        con.disconnect()


def login(client: TestClient, email: str) -> None:
    """Log ``client`` in to the dashboard as ``email``."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    done = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


def csrf(html: str) -> str:
    """The CSRF token of a dashboard page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)
