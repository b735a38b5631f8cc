"""A real uvicorn server on 127.0.0.1 (random free port) with the seeded shop, and headless
Debian Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _e2e_helpers import PASSWORD, USERS

import retain.warehouse as wh
from retain.config import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the service, serving the shop; users for admin, analyst and agent."""
    import _shop
    import uvicorn
    from argon2 import PasswordHasher

    from retain.app.auth import service as auth
    from retain.app.main import create_app
    from retain.voice import savedesk

    root = tmp_path_factory.mktemp("e2e")
    con = wh.connect(f"duckdb:///{root / 'warehouse.duckdb'}")
    wh.create_tables(con)
    _shop.load(con)
    settings = Settings(
        database_url=f"sqlite:///{root / 'app.db'}",
        warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
        models_dir=root / "models",
    )
    app = create_app(settings, warehouse=con, migrate=True)
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with app.state.sessionmaker() as session:
        for role, email in USERS.items():
            auth.create_user(session, email=email, role=role, password=PASSWORD)
        # an agent opens only the customers in their save-desk queue (#20): give them all
        for cid in [*con.table("customers").customer_id.to_pyarrow().to_pylist(), "c1"]:
            case = savedesk.open_case(session, kind="cancellation", customer_id=str(cid))
            case.agent, case.status = USERS["agent"], "assigned"
        session.commit()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    con.disconnect()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (scripts/browser.sh installs it with the CJK fonts)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run scripts/browser.sh (make test does it first)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()
