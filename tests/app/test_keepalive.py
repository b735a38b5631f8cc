"""An unexpected error answers 500 and leaves the keep-alive connection usable: the next request
on the same connection succeeds (issue #16 item 20), against a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from _app_helpers import headers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """The app with a test-only failing route, served by uvicorn in a thread."""

    def broken() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test-only/broken", broken, methods=["GET"])
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=30)


def test_an_error_leaves_the_connection_usable(server, keys):
    seen: list[Any] = []
    # One connection: the pool holds at most one, and the event hook records which one served.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=server, limits=limits, timeout=10) as client:
        for _ in range(2):
            failed = client.get("/test-only/broken", headers=headers(keys["analyst"]))
            assert failed.status_code == 500
            assert failed.json()["error"]["code"] == "internal"
            assert failed.headers.get("connection", "").lower() != "close"
            seen.append(failed.extensions["network_stream"])
            ok = client.get("/healthz")
            assert ok.status_code == 200
            seen.append(ok.extensions["network_stream"])
            page = client.get("/login")
            assert page.status_code == 200
            seen.append(page.extensions["network_stream"])
    assert len({id(s) for s in seen}) == 1, "the connection was replaced after the error"
